import {
  Author,
  fromBase64Url,
  hmacSha256Hex,
  LookoutError,
  ParticipantRole,
  randomToken,
  sha256Hex,
  timingSafeEqual,
  toBase64Url,
} from "@lookout/protocol";
import { getAgentByName } from "agents";
import { z } from "zod";
import { AuthSessionStore } from "../db/auth-sessions";
import { SocketTokenStore } from "../db/socket-tokens";
import type { Env } from "../env";
import { log } from "../log";

/** A WebSocket token lets its holder open one session's socket, once, for a short while. */
export const WS_TOKEN_TTL_MS = 60_000;
/** Random bytes in a token's id (`jti`), the key that makes it single-use. */
const TOKEN_ID_BYTES = 16;

const WsTokenClaims = z.object({
  v: z.literal(2),
  jti: z.string().min(1).max(64),
  sid: z.string(),
  author: Author,
  role: ParticipantRole,
  exp: z.number(),
});
export type WsTokenClaims = z.infer<typeof WsTokenClaims>;

/**
 * Signs a token: base64url(JSON claims) + "." + HMAC-SHA256 over that text. Browsers cannot set
 * headers on a WebSocket upgrade, so the token travels in the query string; it is short-lived,
 * bound to one session and (once `issueWsToken` has stored it) good for one upgrade, which keeps a
 * leaked URL from being useful. A token that was only minted, never issued, opens nothing.
 */
export async function mintWsToken(
  secret: string | undefined,
  claims: Omit<WsTokenClaims, "v" | "jti" | "exp">,
  now = Date.now(),
): Promise<{ token: string; tokenId: string; expiresAt: number }> {
  if (!secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", "WS_TOKEN_SECRET is not set, so WebSocket tokens cannot be issued.");
  const expiresAt = now + WS_TOKEN_TTL_MS;
  const tokenId = randomToken(TOKEN_ID_BYTES);
  const full: WsTokenClaims = { v: 2, jti: tokenId, ...claims, exp: expiresAt };
  const body = toBase64Url(new TextEncoder().encode(JSON.stringify(full)));
  return { token: `${body}.${await hmacSha256Hex(secret, body)}`, tokenId, expiresAt };
}

/**
 * Mints a token and records it as issued to `authSessionId` (the caller's browser sign-in; null
 * for a signed service request), so that it works once and dies with the sign-in.
 */
export async function issueWsToken(
  env: Env,
  claims: Omit<WsTokenClaims, "v" | "jti" | "exp">,
  authSessionId: string | null,
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  const minted = await mintWsToken(env.WS_TOKEN_SECRET, claims, now);
  const stored = await new SocketTokenStore(env.DB).issue(
    { id: minted.tokenId, sessionId: claims.sid, authSessionId, expiresAt: minted.expiresAt },
    now,
  );
  if (!stored) throw new LookoutError("UNAUTHENTICATED", "Your session has expired or was signed out; sign in again.");
  return { token: minted.token, expiresAt: minted.expiresAt };
}

/** Checks a token's signature, session and expiry; it says nothing about whether it was used. */
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

/**
 * Verifies a token and uses it up. Returns its claims and the sign-in it was issued to (null for a
 * service); a token that was already used, or whose sign-in has ended, is `INVALID_TOKEN`.
 */
export async function redeemWsToken(
  env: Env,
  token: string,
  sessionId: string,
  now = Date.now(),
): Promise<{ claims: WsTokenClaims; authSessionId: string | null }> {
  const claims = await verifyWsToken(env.WS_TOKEN_SECRET, token, sessionId, now);
  const redeemed = await new SocketTokenStore(env.DB).redeem(claims.jti, sessionId, now);
  if (!redeemed) {
    throw new LookoutError(
      "INVALID_TOKEN",
      "This WebSocket token was already used, or its sign-in has ended; request a new one for each connection.",
    );
  }
  return { claims, authSessionId: redeemed.authSessionId };
}

/**
 * What a session object knows a browser sign-in's sockets by: a digest of the sign-in's id, so the
 * `auth_sessions` key itself stays in D1. 32 hex characters.
 */
export async function socketSignIn(authSessionId: string): Promise<string> {
  return (await sha256Hex(`socket-sign-in\n${authSessionId}`)).slice(0, 32);
}

/**
 * Tells each session in `sessionIds` to close the sockets `authSessionId` opened there, in
 * parallel. A session that cannot be reached is logged; its sockets' tokens are gone already.
 */
export async function closeSignedOutSockets(env: Env, authSessionId: string, sessionIds: readonly string[]): Promise<void> {
  if (sessionIds.length === 0) return;
  const signIn = await socketSignIn(authSessionId);
  const results = await Promise.allSettled(
    sessionIds.map(async (sessionId) => (await getAgentByName(env.SESSION, sessionId)).closeSignedOutSockets(signIn)),
  );
  results.forEach((result, index) => {
    if (result.status === "rejected") {
      log.error("closing a signed-out sign-in's sockets failed", { sessionId: sessionIds[index], error: result.reason });
    }
  });
}

/**
 * Closes the sign-in's sockets in `sessionId` if the sign-in ended while one was being opened: its
 * token was redeemed while it was live, but sign-out may have asked the session to close sockets
 * before this one was accepted. Checked after the upgrade, so one of the two always sees the other.
 */
export async function closeIfSignedOutMeanwhile(env: Env, authSessionId: string, sessionId: string): Promise<void> {
  if (await new AuthSessionStore(env.DB).isLive(authSessionId, Date.now())) return;
  await closeSignedOutSockets(env, authSessionId, [sessionId]);
}
