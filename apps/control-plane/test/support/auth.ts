import { createExecutionContext, env } from "cloudflare:test";
import { type Author, signServiceRequest } from "@lookout/protocol";
import { app } from "../../src/app";
import { AuthSessionStore } from "../../src/db/auth-sessions";
import type { Env } from "../../src/env";

/** The admin login token whose SHA-256 the test bindings configure. */
export const ADMIN_TOKEN = "test";
/** The service and secret the test bindings configure (`SERVICE_SECRET_TEST_BOT`). */
export const TEST_SERVICE = "test-bot";
export const TEST_SERVICE_SECRET = "test-bot-secret";
export const ORIGIN = "http://lookout.test";

/** Calls the Worker's router in-process, optionally with a changed environment. */
export async function call(path: string, init: RequestInit = {}, envOverride: Partial<Env> = {}): Promise<Response> {
  return app.request(`${ORIGIN}${path}`, init, { ...env, ...envOverride }, createExecutionContext());
}

let addressCounter = 0;
/**
 * A client address of its own per call. The login limiter counts per address only with
 * `TRUST_CF_CONNECTING_IP=true`; tests that need a budget of their own pass that too.
 */
export function freshAddress(): string {
  addressCounter += 1;
  return `198.51.100.${addressCounter % 250}:${addressCounter}`;
}

/** The `Cookie` header value carrying the `lookout_session` cookie a response set. */
export function sessionCookieFrom(response: Response): string {
  const match = /(?:^|,\s*)lookout_session=([^;]*)/.exec(response.headers.get("set-cookie") ?? "");
  if (!match?.[1]) throw new Error("the response set no lookout_session cookie");
  return `lookout_session=${match[1]}`;
}

/** Signs in as the local admin through `POST /auth/login` and returns the cookie header. */
export async function adminCookie(): Promise<string> {
  const response = await call("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": freshAddress() },
    body: JSON.stringify({ token: ADMIN_TOKEN }),
  });
  if (response.status !== 200) throw new Error(`admin login failed with ${response.status}`);
  return sessionCookieFrom(response);
}

/** Creates a member user with a live session and returns the cookie header. */
export async function memberCookie(userId = "member-1"): Promise<string> {
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO users (id, name, role, created_at, updated_at) VALUES (?, ?, 'member', ?, ?) ON CONFLICT (id) DO NOTHING",
  )
    .bind(userId, "Member One", now, now)
    .run();
  const session = await new AuthSessionStore(env.DB).create(userId, now);
  return `lookout_session=${session.token}`;
}

/** A JSON request init carrying `cookie`. */
export function withCookie(cookie: string, method = "GET", body?: unknown): RequestInit {
  return {
    method,
    headers: { cookie, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

/** A request init signed as `service` over exactly the bytes it sends. */
export async function signedInit(
  method: string,
  path: string,
  options: { body?: string; service?: string; secret?: string; actor?: Author; now?: number } = {},
): Promise<RequestInit & { headers: Record<string, string> }> {
  const body = options.body ?? "";
  const headers = await signServiceRequest(
    { service: options.service ?? TEST_SERVICE, method, pathAndQuery: path, body },
    options.secret ?? TEST_SERVICE_SECRET,
    { actor: options.actor ?? null, ...(options.now === undefined ? {} : { now: options.now }) },
  );
  return {
    method,
    headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body } : {}),
  };
}

export interface ErrorJson {
  error: { code: string; message: string };
}

export async function errorCode(response: Response): Promise<string> {
  const body: ErrorJson = await response.json();
  return body.error.code;
}
