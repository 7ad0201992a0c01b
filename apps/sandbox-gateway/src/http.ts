import type { IncomingMessage, ServerResponse } from "node:http";
import { ERROR_CODES, LookoutError, type ErrorBody } from "@lookout/protocol";
import { SandboxProviderError } from "@lookout/sandbox";

/** Reads the whole body as raw bytes (signatures are over these exact bytes), up to `limit`. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers["content-length"] ?? "0");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function tooLarge(limit: number): LookoutError {
  return new LookoutError("PAYLOAD_TOO_LARGE", `Request bodies are limited to ${limit} bytes.`);
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  response.end(text);
}

/** Provider failures, translated into the protocol's error registry. */
export function fromProviderError(error: SandboxProviderError): LookoutError {
  const details = { provider: error.provider, kind: error.kind, reason: error.reason };
  switch (error.reason) {
    case "not_found":
      return new LookoutError("SANDBOX_NOT_FOUND", error.message, details);
    case "unsupported":
      return new LookoutError("UNSUPPORTED", error.message, details);
    case "conflict":
      return new LookoutError("CONFLICT", error.message, details);
    default:
      return new LookoutError(error.kind === "transient" ? "PROVIDER_TRANSIENT" : "PROVIDER_PERMANENT", error.message, details);
  }
}

/** The one place where anything thrown becomes a response: registry codes only, never a stack. */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody; expected: boolean } {
  if (error instanceof LookoutError) return { status: error.status, body: error.toBody(), expected: true };
  if (error instanceof SandboxProviderError) {
    const mapped = fromProviderError(error);
    return { status: mapped.status, body: mapped.toBody(), expected: true };
  }
  return {
    status: ERROR_CODES.INTERNAL.status,
    body: { error: { code: "INTERNAL", message: ERROR_CODES.INTERNAL.message } },
    expected: false,
  };
}
