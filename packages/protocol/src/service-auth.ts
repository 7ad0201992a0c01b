import { hmacSha256Hex, randomToken, sha256Hex, timingSafeEqual } from "./crypto.ts";
import { LookoutError } from "./errors.ts";

/**
 * Signed requests between services (control plane ⇄ sandbox gateway, bots → control plane).
 *
 * The signature is HMAC-SHA256, keyed by the calling service's own secret, over
 * `lookout-v1\n<service>\n<timestampMs>\n<nonce>\n<METHOD>\n<path?query>\n<sha256(body)>`.
 * The verifier rejects timestamps outside ±`SIGNATURE_WINDOW_MS` and any nonce it has seen inside
 * that window, so a captured request cannot be replayed.
 */
export const SERVICE_HEADER = "x-lookout-service";
export const TIMESTAMP_HEADER = "x-lookout-timestamp";
export const NONCE_HEADER = "x-lookout-nonce";
export const SIGNATURE_HEADER = "x-lookout-signature";
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

export interface SignedRequestParts {
  service: string;
  method: string;
  /** Path plus query string, exactly as sent. */
  pathAndQuery: string;
  body: Uint8Array | string;
}

export async function signatureBase(parts: SignedRequestParts, timestampMs: number, nonce: string): Promise<string> {
  const bodyHash = await sha256Hex(parts.body);
  return ["lookout-v1", parts.service, String(timestampMs), nonce, parts.method.toUpperCase(), parts.pathAndQuery, bodyHash].join("\n");
}

/** The headers that authenticate one request as `parts.service`. */
export async function signRequest(
  parts: SignedRequestParts,
  secret: string,
  now: number = Date.now(),
): Promise<Record<string, string>> {
  const nonce = randomToken(16);
  const signature = await hmacSha256Hex(secret, await signatureBase(parts, now, nonce));
  return {
    [SERVICE_HEADER]: parts.service,
    [TIMESTAMP_HEADER]: String(now),
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: signature,
  };
}

/** Remembers nonces until they expire; `claim` returns false if the nonce was already used. */
export interface NonceStore {
  claim(service: string, nonce: string, expiresAtMs: number): Promise<boolean>;
}

/** An in-memory nonce store for a single process (the gateway, tests). */
export class MemoryNonceStore implements NonceStore {
  private readonly seen = new Map<string, number>();

  async claim(service: string, nonce: string, expiresAtMs: number): Promise<boolean> {
    const now = Date.now();
    if (this.seen.size > 10_000) {
      for (const [key, expiry] of this.seen) if (expiry < now) this.seen.delete(key);
    }
    const key = `${service}:${nonce}`;
    const expiry = this.seen.get(key);
    if (expiry !== undefined && expiry >= now) return false;
    this.seen.set(key, expiresAtMs);
    return true;
  }
}

export interface VerifyOptions {
  /** The secret of each service allowed here; a service whose secret is unset is refused. */
  secrets: Record<string, string | undefined>;
  nonces: NonceStore;
  now?: number;
}

/**
 * Verifies a signed request and returns the calling service's name. Throws a `LookoutError`
 * (`UNAUTHENTICATED`, `SERVICE_NOT_CONFIGURED`, `STALE_REQUEST`, `INVALID_SIGNATURE`,
 * `REPLAYED_REQUEST`) otherwise. The nonce is claimed only after the signature verifies.
 */
export async function verifySignedRequest(
  headers: { get(name: string): string | null },
  request: { method: string; pathAndQuery: string; body: Uint8Array | string },
  options: VerifyOptions,
): Promise<string> {
  const service = headers.get(SERVICE_HEADER);
  const timestamp = headers.get(TIMESTAMP_HEADER);
  const nonce = headers.get(NONCE_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  if (!service || !timestamp || !nonce || !signature) {
    throw new LookoutError("UNAUTHENTICATED", "This endpoint needs a signed service request.");
  }
  const secret = Object.hasOwn(options.secrets, service) ? options.secrets[service] : undefined;
  if (!secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", `Service "${service}" is not allowed here or has no secret.`);
  const timestampMs = Number(timestamp);
  const now = options.now ?? Date.now();
  if (!Number.isSafeInteger(timestampMs) || Math.abs(now - timestampMs) > SIGNATURE_WINDOW_MS) {
    throw new LookoutError("STALE_REQUEST");
  }
  if (!/^[A-Za-z0-9_-]{8,128}$/.test(nonce)) throw new LookoutError("INVALID_SIGNATURE", "The nonce is malformed.");
  const expected = await hmacSha256Hex(
    secret,
    await signatureBase({ service, method: request.method, pathAndQuery: request.pathAndQuery, body: request.body }, timestampMs, nonce),
  );
  if (!timingSafeEqual(expected, signature)) throw new LookoutError("INVALID_SIGNATURE");
  if (!(await options.nonces.claim(service, nonce, timestampMs + SIGNATURE_WINDOW_MS))) {
    throw new LookoutError("REPLAYED_REQUEST");
  }
  return service;
}
