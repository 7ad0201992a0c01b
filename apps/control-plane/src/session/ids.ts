import { randomToken } from "@lookout/protocol";

/** A sortable, URL-safe id: a millisecond timestamp prefix plus 80 random bits. */
export function newId(prefix: string, now: number = Date.now()): string {
  return `${prefix}_${now.toString(36).padStart(9, "0")}${randomToken(10).replace(/[-_]/g, "x")}`;
}
