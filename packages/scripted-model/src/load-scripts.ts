import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { ScriptList, type Script } from "./script";

/**
 * Loads scripts from a `.json` file (an array of scripts or `{ scripts: [...] }`) or from a JS/TS
 * module whose default export (or `scripts` export) is such a value. Everything is validated.
 */
export async function loadScripts(path: string): Promise<Script[]> {
  const absolute = resolve(path);
  let value: unknown;
  if (absolute.endsWith(".json")) {
    value = JSON.parse(await readFile(absolute, "utf8"));
  } else {
    const module: unknown = await import(pathToFileURL(absolute).href);
    const exports = z.looseObject({ default: z.unknown().optional(), scripts: z.unknown().optional() }).parse(module);
    value = exports.scripts ?? exports.default;
  }
  const parsed = ScriptList.safeParse(value);
  if (!parsed.success) throw new Error(`${path} does not hold valid scripts: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
