import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { LookoutError, sha256Hex, timingSafeEqual } from "@lookout/protocol";
import { AUTH_SESSION_TTL_MS, AuthSessionStore } from "../db/auth-sessions";
import { UserStore } from "../db/users";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { log } from "../log";
import { SESSION_COOKIE } from "./middleware";
import { LoginAttemptLimiter } from "./login-limiter";
import type { UserPrincipal } from "./principal";
import { closeSignedOutSockets } from "./ws-token";

const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/i;

/** The one limiter key every caller shares where the caller's address cannot be trusted. */
const SHARED_CLIENT = "local";

const limiter = new LoginAttemptLimiter();

/**
 * Checks a login token against `ADMIN_TOKEN_SHA256`. Only the hash is configured, so the Worker
 * never holds the token itself; the comparison of the two hex digests takes the same time wherever
 * they differ. With no (or a malformed) hash configured, token login is off: fail closed.
 */
export async function verifyAdminToken(env: Env, token: string): Promise<boolean> {
  const expected = env.ADMIN_TOKEN_SHA256?.trim() ?? "";
  if (!SHA256_HEX_PATTERN.test(expected)) {
    throw new LookoutError(
      "UNAUTHENTICATED",
      "Token login is disabled: ADMIN_TOKEN_SHA256 is not set. Start Lookout with the start command to get a login URL.",
    );
  }
  return timingSafeEqual(await sha256Hex(token), expected.toLowerCase());
}

/**
 * Signs the local administrator in with the login token: verifies it, upserts the admin user,
 * starts a browser session and sets its cookie on `c`. The token is checked before the limiter is
 * consulted, so the right token signs in however many wrong ones came before it; only wrong ones
 * count, and past the budget they get `RATE_LIMITED` instead of `INVALID_TOKEN`.
 */
export async function signInWithAdminToken(c: Context<AppEnv>, token: string): Promise<UserPrincipal> {
  const now = Date.now();
  if (!(await verifyAdminToken(c.env, token))) {
    const client = loginClient(c);
    limiter.recordFailure(client, now);
    log.warn("admin login refused", { client });
    throw new LookoutError("INVALID_TOKEN", "This login token is not valid; use the login URL printed by the start command.");
  }
  const user = await new UserStore(c.env.DB).ensureLocalAdmin(now);
  const session = await new AuthSessionStore(c.env.DB).create(user.id, now);
  setCookie(c, SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    secure: isHttps(c),
    maxAge: Math.floor(AUTH_SESSION_TTL_MS / 1000),
  });
  log.info("admin signed in", { userId: user.id, client: loginClient(c) });
  return { kind: "user", user, authSessionId: session.authSessionId };
}

/**
 * Ends the caller's browser session, if any, and clears its cookie. Its unused socket tokens die
 * with it, and every session it has sockets in is told to close them; a session that cannot be
 * reached is logged, not fatal, because the sign-in is over either way.
 */
export async function signOut(c: Context<AppEnv>): Promise<void> {
  const token = getCookie(c, SESSION_COOKIE);
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: isHttps(c), httpOnly: true, sameSite: "Lax" });
  if (!token) return;
  const revoked = await new AuthSessionStore(c.env.DB).revoke(token);
  await closeSignedOutSockets(c.env, revoked.authSessionId, revoked.socketSessionIds);
}

/**
 * Where to send the browser after login: `next` when it is a path on this origin, else `/`.
 * `//evil.example` and `/\evil.example` are protocol-relative to browsers, so a path must start
 * with exactly one '/' and resolve to this origin.
 */
export function safeNextPath(next: string | undefined, requestUrl: string): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  // Browsers drop tabs and newlines from URLs, which would turn "/\t/evil" into "//evil".
  if (/[\u0000-\u001f\u007f]/.test(next)) return "/";
  const origin = new URL(requestUrl).origin;
  let target: URL;
  try {
    target = new URL(next, origin);
  } catch {
    return "/";
  }
  if (target.origin !== origin) return "/";
  return `${target.pathname}${target.search}${target.hash}`;
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:";
}

/**
 * The key wrong tokens are counted under. Behind Cloudflare (`TRUST_CF_CONNECTING_IP=true`) it is
 * the caller's address, which Cloudflare sets; anywhere else (`wrangler dev`) a caller could send
 * any `CF-Connecting-IP` and get a fresh budget with each value, so every caller shares one key.
 */
function loginClient(c: Context<AppEnv>): string {
  if (c.env.TRUST_CF_CONNECTING_IP !== "true") return SHARED_CLIENT;
  return c.req.header("cf-connecting-ip") ?? "unknown";
}
