import { LookoutError, timingSafeEqual, toBytes, toHex } from "@lookout/protocol";

/**
 * How far `Sentry-Hook-Timestamp` may be from our clock, either way. The timestamp is outside
 * Sentry's MAC, so it only bounds replays of a delivery whose `Request-ID` record was lost; the
 * `Request-ID` claim is what refuses an exact replay.
 */
export const SENTRY_TIMESTAMP_WINDOW_MS = 5 * 60 * 1000;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Hex HMAC-SHA256 of `body` under `secret`, as Sentry computes `Sentry-Hook-Signature`. */
export async function sentrySignature(secret: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", toBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await crypto.subtle.sign("HMAC", key, toBytes(body)));
}

/**
 * Checks `Sentry-Hook-Signature` over the raw bytes (never a re-serialisation: Sentry signs what it
 * sent), comparing in constant time. Missing or wrong is `WEBHOOK_SIGNATURE_INVALID`.
 */
export async function verifySentrySignature(secret: string, body: Uint8Array, signature: string | undefined): Promise<void> {
  const presented = signature?.trim().toLowerCase() ?? "";
  if (!HEX_SHA256.test(presented)) {
    throw new LookoutError("WEBHOOK_SIGNATURE_INVALID", "Sentry-Hook-Signature is missing or is not a hex SHA-256 HMAC.");
  }
  if (!timingSafeEqual(await sentrySignature(secret, body), presented)) {
    throw new LookoutError(
      "WEBHOOK_SIGNATURE_INVALID",
      "Sentry-Hook-Signature does not match the body; check that the automation holds the integration's current Client Secret.",
    );
  }
}

/**
 * Checks `Sentry-Hook-Timestamp` (Unix seconds; a fraction is allowed) is within the window of
 * `nowMs`. Missing, malformed or outside the window is `STALE_REQUEST`.
 */
export function assertFreshSentryTimestamp(header: string | undefined, nowMs: number): void {
  const seconds = header !== undefined && /^\d{9,11}(\.\d{1,6})?$/.test(header.trim()) ? Number(header.trim()) : Number.NaN;
  if (!Number.isFinite(seconds)) {
    throw new LookoutError("STALE_REQUEST", "Sentry-Hook-Timestamp is missing or is not Unix seconds.");
  }
  if (Math.abs(nowMs - seconds * 1000) > SENTRY_TIMESTAMP_WINDOW_MS) {
    throw new LookoutError(
      "STALE_REQUEST",
      `Sentry-Hook-Timestamp is more than ${SENTRY_TIMESTAMP_WINDOW_MS / 60_000} minutes from this server's clock; check both clocks.`,
    );
  }
}
