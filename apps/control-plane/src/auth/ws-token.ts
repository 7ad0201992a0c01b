import { Author, LookoutError, ParticipantRole, sha256Hex, signToken, TokenRefused, type TokenKind, verifyToken } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { z } from "zod";
import { AuthSessionStore } from "../db/auth-sessions";
import { SocketTokenStore } from "../db/socket-tokens";
import type { Env } from "../env";
import { log } from "../log";

/** A WebSocket token lets its holder open one session's socket, once, for a short while. */
export const WS_TOKEN_TTL_MS = 60_000;

/** Minted and accepted by this Worker alone (`signed-token.ts` in protocol has the format). */
const WS_TOKEN: TokenKind = {
  purpose: "session-socket",
  issuer: "lookout-control-plane",
  audience: "lookout-control-plane",
  maxLifetimeMs: WS_TOKEN_TTL_MS,
};

/** Who the token's holder is in the session: its private claims. */
const WsTokenBinding = z.object({
  sid: z.string().min(1),
  author: Author,
  role: ParticipantRole,
});
type WsTokenBinding = z.infer<typeof WsTokenBinding>;

export type WsTokenClaims = WsTokenBinding & {
  /** The token's id; `socket_tokens` holds it until the token is used. */
  jti: string;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
};

const REFUSALS: Readonly<Record<TokenRefused["reason"], string>> = {
  malformed: "The WebSocket token is malformed; request a new one.",
  forged: "The WebSocket token does not verify; request a new one.",
  misdirected: "This token is not a WebSocket token; request one from POST /api/sessions/:id/ws-token.",
  expired: "The WebSocket token has expired; request a new one.",
};

/**
 * Signs a token (a compact JWS) binding its holder to one session as one author with one role.
 * Browsers cannot set headers on a WebSocket upgrade, so the token travels in the query string; it
 * is short-lived, bound to one session and (once `issueWsToken` has stored its `jti`) good for one
 * upgrade, which keeps a leaked URL from being useful. A token that was only minted, never issued,
 * opens nothing.
 */
export async function mintWsToken(
  secret: string | undefined,
  claims: WsTokenBinding,
  now = Date.now(),
): Promise<{ token: string; tokenId: string; expiresAt: number }> {
  if (!secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", "WS_TOKEN_SECRET is not set, so WebSocket tokens cannot be issued.");
  return signToken(secret, WS_TOKEN, WsTokenBinding.parse(claims), { issuedAt: now, expiresAt: now + WS_TOKEN_TTL_MS });
}

/**
 * Mints a token and records it as issued to `authSessionId` (the caller's browser sign-in; null
 * for a signed service request), so that it works once and dies with the sign-in.
 */
export async function issueWsToken(
  env: Env,
  claims: WsTokenBinding,
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

/**
 * Checks a token's signature, kind, session and expiry; it says nothing about whether it was used.
 * Every refusal is `INVALID_TOKEN`, with a message that says which check failed.
 */
export async function verifyWsToken(
  secret: string | undefined,
  token: string,
  sessionId: string,
  now = Date.now(),
): Promise<WsTokenClaims> {
  if (!secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", "WS_TOKEN_SECRET is not set, so WebSocket tokens cannot be checked.");
  let verified;
  try {
    verified = await verifyToken(secret, WS_TOKEN, token, now);
  } catch (error) {
    if (error instanceof TokenRefused) throw new LookoutError("INVALID_TOKEN", REFUSALS[error.reason]);
    throw error;
  }
  const binding = WsTokenBinding.safeParse(verified.claims);
  if (!binding.success) throw new LookoutError("INVALID_TOKEN", REFUSALS.malformed);
  if (binding.data.sid !== sessionId) throw new LookoutError("INVALID_TOKEN", "This token is for another session.");
  return { ...binding.data, jti: verified.tokenId, exp: verified.expiresAt };
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
