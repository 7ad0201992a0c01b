import type { z } from "zod";
import { MAX_FRAME_BYTES } from "./common.ts";
import { LookoutError } from "./errors.ts";

/**
 * Parses one WebSocket frame against a discriminated union. Every failure is a `LookoutError`
 * with a code the peer can act on: oversized, not JSON, unknown `type`, or wrong fields.
 */
export function parseFrame<T extends z.ZodType>(
  schema: T,
  knownTypes: ReadonlySet<string>,
  raw: string | ArrayBuffer | Uint8Array,
  maxBytes: number = MAX_FRAME_BYTES,
): z.infer<T> {
  const size = typeof raw === "string" ? new TextEncoder().encode(raw).byteLength : raw.byteLength;
  if (size > maxBytes) throw new LookoutError("FRAME_TOO_LARGE", `Frames are limited to ${maxBytes} bytes; this one has ${size}.`);
  const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new LookoutError("INVALID_JSON", "The frame is not valid JSON.");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new LookoutError("INVALID_FRAME", "A frame is a JSON object with a `type` field.");
  }
  const type = (data as { type?: unknown }).type;
  if (typeof type !== "string" || !knownTypes.has(type)) {
    throw new LookoutError("UNKNOWN_MESSAGE_TYPE", `Unknown frame type ${JSON.stringify(type ?? null)}.`);
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new LookoutError("INVALID_FRAME", `Invalid "${type}" frame: ${summarizeIssues(result.error)}`, {
      issues: result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
    });
  }
  return result.data;
}

export function summarizeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

/** The `type` values of a discriminated union, for `parseFrame`. */
export function typesOf(schema: { options: ReadonlyArray<{ shape: { type: { value: unknown } } }> }): ReadonlySet<string> {
  return new Set(schema.options.map((option) => String(option.shape.type.value)));
}
