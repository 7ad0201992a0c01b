import type { Context } from "hono";
import type { z } from "zod";
import { LookoutError, summarizeIssues } from "@lookout/protocol";

/** Largest JSON body any REST route accepts. */
export const MAX_JSON_BODY_BYTES = 128 * 1024;

/**
 * Whether a `Content-Type` header declares JSON (`application/json`, parameters such as `charset`
 * allowed). Only JSON is accepted for a body: a page on another origin can send `text/plain` or a
 * form without asking the browser's permission, but never `application/json`.
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType?.split(";", 1)[0]?.trim().toLowerCase() === "application/json";
}

/**
 * Reads and validates a JSON body; failures are registry errors with the offending fields. An empty
 * body reads as `{}`; a non-empty one must be declared `application/json`.
 */
export async function readJson<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const raw = await c.req.raw.text();
  if (new TextEncoder().encode(raw).byteLength > MAX_JSON_BODY_BYTES) {
    throw new LookoutError("PAYLOAD_TOO_LARGE", `Bodies are limited to ${MAX_JSON_BODY_BYTES} bytes.`);
  }
  if (raw.length > 0 && !isJsonContentType(c.req.header("content-type"))) throw new LookoutError("UNSUPPORTED_MEDIA_TYPE");
  let data: unknown;
  try {
    data = raw.length === 0 ? {} : JSON.parse(raw);
  } catch {
    throw new LookoutError("INVALID_JSON");
  }
  return parseWith(schema, data);
}

export function readQuery<T extends z.ZodType>(c: Context, schema: T): z.infer<T> {
  return parseWith(schema, c.req.query());
}

export function parseWith<T extends z.ZodType>(schema: T, data: unknown): z.infer<T> {
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new LookoutError("VALIDATION_FAILED", summarizeIssues(result.error), {
      issues: result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
    });
  }
  return result.data;
}
