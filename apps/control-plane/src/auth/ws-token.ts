import { Author, fromBase64Url, hmacSha256Hex, LookoutError, ParticipantRole, timingSafeEqual, toBase64Url } from "@lookout/protocol";
import { z } from "zod";

/** A WebSocket token lets its holder open one session's socket for a short while. */
export const WS_TOKEN_TTL_MS = 60_000;

const WsTokenClaims = z.object({ v: z.literal(1), sid: z.string(), author: Author, role: ParticipantRole, exp: z.number() });
export type WsTokenClaims = z.infer<typeof WsTokenClaims>;

/**
 * Stateless tokens: base64url(JSON claims) + "." + HMAC-SHA256 over that text. Browsers cannot set
 * headers on a WebSocket upgrade, so the token travels in the query string; it is short-lived and
 * bound to one session, which keeps a leaked URL from being useful for long.
 */
export async function mintWsToken(
  secret: string | undefined,
  claims: Omit<WsTokenClaims, "v" | "exp">,
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  if (!secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", "WS_TOKEN_SECRET is not set, so WebSocket tokens cannot be issued.");
  const expiresAt = now + WS_TOKEN_TTL_MS;
  const body = toBase64Url(new TextEncoder().encode(JSON.stringify({ v: 1, ...claims, exp: expiresAt })));
  return { token: `${body}.${await hmacSha256Hex(secret, body)}`, expiresAt };
}

export async function verifyWsToken(
  secret: string | undefined,
  token: string,
  sessionId: string,
  now = Date.now(),
): Promise<WsTokenClaims> {
  if (!secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", "WS_TOKEN_SECRET is not set, so WebSocket tokens cannot be checked.");
  const [body, signature, extra] = token.split(".");
  if (!body || !signature || extra !== undefined) throw new LookoutError("INVALID_TOKEN");
  if (!timingSafeEqual(await hmacSha256Hex(secret, body), signature)) throw new LookoutError("INVALID_TOKEN");
  let claims: WsTokenClaims;
  try {
    claims = WsTokenClaims.parse(JSON.parse(new TextDecoder().decode(fromBase64Url(body))));
  } catch {
    throw new LookoutError("INVALID_TOKEN");
  }
  if (claims.sid !== sessionId) throw new LookoutError("INVALID_TOKEN", "This token is for another session.");
  if (claims.exp < now) throw new LookoutError("INVALID_TOKEN", "The WebSocket token has expired; request a new one.");
  return claims;
}
