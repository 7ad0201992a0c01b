import type { ServerResponse } from "node:http";
import type { HttpBindings } from "@hono/node-server";
import { ERROR_CODES, LookoutError, type ErrorBody } from "@lookout/protocol";
import { SandboxProviderError } from "@lookout/sandbox";

/** What the gateway's hono handlers see: Node's own request and response, and the verified body. */
export interface GatewayEnv {
  Bindings: HttpBindings;
  Variables: {
    /** The raw bytes of a signed `/v1` request's body (the signature is over exactly these). */
    body: Uint8Array;
  };
}

/** Every JSON answer of the gateway's own API: never cached, as each one reflects live state. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...headers, "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/** A JSON answer written straight to Node's response (the relays answer without hono). */
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
