import { LookoutError, randomToken, sha256Hex, timingSafeEqual } from "@lookout/protocol";

/** Random bytes in a webhook key. */
export const WEBHOOK_KEY_BYTES = 32;
/** Marks the key as Lookout's, so secret scanners can recognise a leaked one. */
const KEY_PREFIX = "lkwh_";
/** The header a sender puts the key in; `Authorization: Bearer <key>` works too. */
export const WEBHOOK_KEY_HEADER = "X-Lookout-Webhook-Key";

const KEY_PATTERN = /^lkwh_[A-Za-z0-9_-]{43}$/;

/** A new key and the SHA-256 (hex) that is all the database keeps of it. */
export async function newWebhookKey(): Promise<{ key: string; hash: string }> {
  const key = `${KEY_PREFIX}${randomToken(WEBHOOK_KEY_BYTES)}`;
  return { key, hash: await sha256Hex(key) };
}

/** The key a request presents, from `X-Lookout-Webhook-Key` or `Authorization: Bearer`. */
export function presentedWebhookKey(headers: Headers): string | null {
  const direct = headers.get(WEBHOOK_KEY_HEADER)?.trim();
  if (direct) return direct;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "");
  return bearer?.[1] ?? null;
}

/**
 * Checks a presented key against the stored hash: hashing first makes the comparison's time
 * independent of the key, and the comparison itself is constant-time. No key, a malformed one, or
 * no stored hash (never issued) is `WEBHOOK_KEY_INVALID`.
 */
export async function verifyWebhookKey(presented: string | null, storedHash: string | null): Promise<void> {
  const candidate = presented !== null && KEY_PATTERN.test(presented) ? await sha256Hex(presented) : "";
  if (storedHash === null || candidate === "" || !timingSafeEqual(candidate, storedHash)) {
    throw new LookoutError("WEBHOOK_KEY_INVALID");
  }
}
