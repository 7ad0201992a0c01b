import { Author } from "./common.ts";
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
export async function signRequest(parts: SignedRequestParts, secret: string, now: number = Date.now()): Promise<Record<string, string>> {
  return signServiceRequest(parts, secret, { now });
}

/** Remembers nonces until they expire; `claim` returns false if the nonce was already used. */
export interface NonceStore {
  claim(service: string, nonce: string, expiresAtMs: number): Promise<boolean>;
}

/** An in-memory nonce store for a single process (the gateway, tests). */
export class MemoryNonceStore implements NonceStore {
  private readonly seen = new Map<string, number>();

  claim(service: string, nonce: string, expiresAtMs: number): Promise<boolean> {
    return Promise.resolve(this.claimNow(service, nonce, expiresAtMs));
  }

  private claimNow(service: string, nonce: string, expiresAtMs: number): boolean {
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
 * Verifies a signed request and returns the calling service's name; `verifyServiceRequest` below
 * also returns the user the service acts for. Throws a `LookoutError` (`UNAUTHENTICATED`,
 * `SERVICE_NOT_CONFIGURED`, `STALE_REQUEST`, `INVALID_SIGNATURE`, `REPLAYED_REQUEST`) otherwise.
 */
export async function verifySignedRequest(
  headers: { get(name: string): string | null },
  request: { method: string; pathAndQuery: string; body: Uint8Array | string },
  options: VerifyOptions,
): Promise<string> {
  return (await verifyServiceRequest(headers, request, options)).service;
}

/**
 * Signed service requests that act for a user (a Slack bot posting Ada's prompt, a GitHub bot
 * relaying a PR comment).
 *
 * The user travels in `X-Lookout-Actor` as a JSON `Author`. A header outside the signature could be
 * added or swapped by anyone on the path, so when the header is present the signed string gains one
 * line, `actor:<sha256 of the header value, exactly as sent>`, after the `lookout-v1` string of
 * `service-auth.ts`. Without the header the signed string is byte-for-byte the `lookout-v1` one, so
 * every existing signer and verifier keeps working; a signer that sends an actor without signing it
 * is refused. Hashing the header's exact bytes (not a re-serialised object) means signer and
 * verifier never have to agree on a JSON canonical form. The extra line cannot be confused with a
 * `lookout-v1` string: the header fields and the path cannot contain a newline, so the line count
 * alone tells the two shapes apart.
 */
export const ACTOR_HEADER = "x-lookout-actor";

/** Largest `X-Lookout-Actor` value, in characters; an `Author` is far smaller. */
export const MAX_ACTOR_HEADER_CHARS = 4096;

export async function signatureBaseWithActor(
  parts: SignedRequestParts,
  timestampMs: number,
  nonce: string,
  actorHeader: string | null,
): Promise<string> {
  const base = await signatureBase(parts, timestampMs, nonce);
  return actorHeader === null ? base : `${base}\nactor:${await sha256Hex(actorHeader)}`;
}

/** The headers that authenticate one request as `parts.service`, optionally acting for `actor`. */
export async function signServiceRequest(
  parts: SignedRequestParts,
  secret: string,
  options: { actor?: Author | null; now?: number } = {},
): Promise<Record<string, string>> {
  const now = options.now ?? Date.now();
  const nonce = randomToken(16);
  const actorHeader = options.actor ? asciiJson(Author.parse(options.actor)) : null;
  const signature = await hmacSha256Hex(secret, await signatureBaseWithActor(parts, now, nonce, actorHeader));
  return {
    [SERVICE_HEADER]: parts.service,
    [TIMESTAMP_HEADER]: String(now),
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: signature,
    ...(actorHeader === null ? {} : { [ACTOR_HEADER]: actorHeader }),
  };
}

export interface VerifiedServiceRequest {
  service: string;
  /** The user the service acts for; null when the request carries no actor. */
  actor: Author | null;
}

/**
 * Verifies a signed request, including its actor when present. Accepts everything
 * `verifySignedRequest` accepts and refuses the same way (`UNAUTHENTICATED`,
 * `SERVICE_NOT_CONFIGURED`, `STALE_REQUEST`, `INVALID_SIGNATURE`, `REPLAYED_REQUEST`); a signed
 * actor that is not a valid `Author` is `VALIDATION_FAILED`. The nonce is claimed only after the
 * signature verifies, and the actor is parsed only after that, so unsigned bytes are never parsed.
 */
export async function verifyServiceRequest(
  headers: { get(name: string): string | null },
  request: { method: string; pathAndQuery: string; body: Uint8Array | string },
  options: VerifyOptions,
): Promise<VerifiedServiceRequest> {
  const service = headers.get(SERVICE_HEADER);
  const timestamp = headers.get(TIMESTAMP_HEADER);
  const nonce = headers.get(NONCE_HEADER);
  const signature = headers.get(SIGNATURE_HEADER);
  const actorHeader = headers.get(ACTOR_HEADER);
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
  if (actorHeader !== null && actorHeader.length > MAX_ACTOR_HEADER_CHARS) {
    throw new LookoutError("INVALID_SIGNATURE", `The actor header is limited to ${MAX_ACTOR_HEADER_CHARS} characters.`);
  }
  const expected = await hmacSha256Hex(
    secret,
    await signatureBaseWithActor(
      { service, method: request.method, pathAndQuery: request.pathAndQuery, body: request.body },
      timestampMs,
      nonce,
      actorHeader,
    ),
  );
  if (!timingSafeEqual(expected, signature)) throw new LookoutError("INVALID_SIGNATURE");
  if (!(await options.nonces.claim(service, nonce, timestampMs + SIGNATURE_WINDOW_MS))) {
    throw new LookoutError("REPLAYED_REQUEST");
  }
  return { service, actor: actorHeader === null ? null : parseActor(actorHeader) };
}

/** JSON with every non-ASCII character escaped: header values must be bytes, names need not be. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function parseActor(header: string): Author {
  let data: unknown;
  try {
    data = JSON.parse(header);
  } catch {
    throw new LookoutError("VALIDATION_FAILED", "The actor header is not JSON; send a JSON `Author`.");
  }
  const result = Author.safeParse(data);
  if (!result.success) throw new LookoutError("VALIDATION_FAILED", "The actor header is not a valid `Author`.");
  return result.data;
}
