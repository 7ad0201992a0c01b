import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { LookoutError, sha256Hex, timingSafeEqual } from "@lookout/protocol";
import { AUTH_SESSION_TTL_MS, AuthSessionStore } from "../db/auth-sessions";
import { UserStore } from "../db/users";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { log } from "../log";
import { SESSION_COOKIE } from "./middleware";
import type { User } from "./principal";

/** Failed sign-ins one address may make per window before it has to wait. */
export const MAX_FAILED_LOGINS_PER_WINDOW = 10;
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Addresses the limiter remembers at most; beyond that the oldest windows are forgotten. */
const MAX_TRACKED_ADDRESSES = 10_000;

const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/i;

/**
 * Counts failed sign-ins per client address in fixed windows. It lives in the isolate's memory: the
 * admin token is 256 random bits, so this is a speed bump against noisy guessing, not the defence,
 * and it needs no table. A deployment with many isolates gets one budget per isolate.
 */
export class LoginAttemptLimiter {
  private readonly failures = new Map<string, { count: number; windowStartMs: number }>();

  constructor(
    private readonly maxFailures: number = MAX_FAILED_LOGINS_PER_WINDOW,
    private readonly windowMs: number = LOGIN_WINDOW_MS,
  ) {}

  /** Throws `RATE_LIMITED` while `address` has used up its failures for the current window. */
  assertAllowed(address: string, now: number): void {
    const entry = this.failures.get(address);
    if (!entry || now - entry.windowStartMs >= this.windowMs) return;
    if (entry.count >= this.maxFailures) {
      const waitMinutes = Math.ceil((entry.windowStartMs + this.windowMs - now) / 60_000);
      throw new LookoutError("RATE_LIMITED", `Too many failed sign-ins from this address; try again in ${waitMinutes} min.`);
    }
  }

  recordFailure(address: string, now: number): void {
    const entry = this.failures.get(address);
    if (entry && now - entry.windowStartMs < this.windowMs) {
      entry.count += 1;
      return;
    }
    if (this.failures.size >= MAX_TRACKED_ADDRESSES) {
      // Maps iterate in insertion order, so the first key is the oldest window.
      const oldest = this.failures.keys().next();
      if (!oldest.done) this.failures.delete(oldest.value);
    }
    this.failures.delete(address);
    this.failures.set(address, { count: 1, windowStartMs: now });
  }

  recordSuccess(address: string): void {
    this.failures.delete(address);
  }
}

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
 * starts a browser session and sets its cookie on `c`.
 */
export async function signInWithAdminToken(c: Context<AppEnv>, token: string): Promise<User> {
  const now = Date.now();
  const address = clientAddress(c);
  limiter.assertAllowed(address, now);
  if (!(await verifyAdminToken(c.env, token))) {
    limiter.recordFailure(address, now);
    log.warn("admin login refused", { address });
    throw new LookoutError("INVALID_TOKEN", "This login token is not valid; use the login URL printed by the start command.");
  }
  limiter.recordSuccess(address);
  const user = await new UserStore(c.env.DB).ensureLocalAdmin(now);
  const session = await new AuthSessionStore(c.env.DB).create(user.id, now);
  setCookie(c, SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    secure: isHttps(c),
    maxAge: Math.floor(AUTH_SESSION_TTL_MS / 1000),
  });
  log.info("admin signed in", { userId: user.id, address });
  return user;
}

/** Ends the caller's browser session, if any, and clears its cookie. */
export async function signOut(c: Context<AppEnv>): Promise<void> {
  const token = getCookie(c, SESSION_COOKIE);
  if (token) await new AuthSessionStore(c.env.DB).revoke(token);
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: isHttps(c), httpOnly: true, sameSite: "Lax" });
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

/** Cloudflare sets `CF-Connecting-IP` on every request it proxies; local dev may have none. */
function clientAddress(c: Context): string {
  return c.req.header("cf-connecting-ip") ?? "unknown";
}
