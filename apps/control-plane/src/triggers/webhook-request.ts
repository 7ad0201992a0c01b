import { type Automation, LookoutError } from "@lookout/protocol";
import { isJsonContentType } from "../http/validate";
import type { TriggerEvent } from "./types";

/**
 * What every inbound trigger request goes through before its sender is known to be genuine: JSON
 * only, a size cap enforced while reading (a body is never buffered past the cap), and bytes kept
 * raw so a signature can be checked over exactly what was sent.
 */

/** A verified delivery, normalized: what the route records and hands to dispatch. */
export interface Intake {
  deliveryId: string;
  event: TriggerEvent;
}

/**
 * Refuses a delivery for a paused automation. Checked only after the sender is verified, so the
 * answer tells whether an automation is paused only to whoever holds its secret.
 */
export function assertEnabled(automation: Automation): void {
  if (!automation.enabled) {
    throw new LookoutError(
      "AUTOMATION_PAUSED",
      `Automation "${automation.name}" is paused${automation.pausedReason ? ` (${automation.pausedReason})` : ""}, so its deliveries start nothing; resume it first.`,
    );
  }
}

/** Refuses a body that is not declared `application/json` (415), before any of it is read. */
export function assertJsonContentType(contentType: string | undefined): void {
  if (!isJsonContentType(contentType)) {
    throw new LookoutError("UNSUPPORTED_MEDIA_TYPE", "Trigger deliveries are JSON: send them with `Content-Type: application/json`.");
  }
}

/**
 * Reads a request body up to `maxBytes`. A declared `Content-Length` over the cap is refused
 * without reading; an undeclared or understated one is cut off as soon as the stream passes it.
 */
export async function readCappedBody(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = () => new LookoutError("PAYLOAD_TOO_LARGE", `Trigger deliveries are limited to ${maxBytes} bytes.`);
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const result: ReadableStreamReadResult<unknown> = await reader.read();
    if (result.done) break;
    // A request body streams bytes; anything else would be a runtime bug, not the sender's input.
    if (!(result.value instanceof Uint8Array)) throw new TypeError("a request body chunk is not bytes");
    const value = result.value;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Decodes and parses a verified body; invalid UTF-8 or JSON is `INVALID_JSON`. */
export function parseJsonBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw new LookoutError("INVALID_JSON", "The delivery's body is not valid JSON.");
  }
}
