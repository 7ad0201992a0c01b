import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { LookoutError, SERVICE_HEADER, verifyServiceRequest } from "@lookout/protocol";
import { AuthSessionStore } from "../db/auth-sessions";
import { D1NonceStore } from "../db/service-nonces";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { assertBrowserWrite } from "../http/browser-writes";
import type { Principal } from "./principal";

/** The browser session cookie; its value is a random token whose SHA-256 is in `auth_sessions`. */
export const SESSION_COOKIE = "lookout_session";

/** Session tokens are base64url; anything else is refused before it reaches the database. */
const SESSION_TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Service names map one-to-one onto env vars (`slack-bot` → `SERVICE_SECRET_SLACK_BOT`). Allowing
 * only lowercase letters, digits and '-' keeps that mapping injective: `Slack-Bot` or `slack_bot`
 * cannot borrow `slack-bot`'s secret.
 */
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Authenticates every `/api/*` request and sets `principal`: a signed service request when the
 * `X-Lookout-Service` header is present, else the `lookout_session` cookie. Anything else is
 * `UNAUTHENTICATED`. A request that claims to be a service is judged only as one, so a broken
 * signature never falls back to whatever cookie the request also carries.
 */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = c.req.raw.headers.has(SERVICE_HEADER) ? await authenticateService(c) : await authenticateBrowser(c);
  c.set("principal", principal);
  await next();
};

/** For admin-only routes (secret and repository writes); runs after `requireAuth`. */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal: Principal | undefined = c.get("principal");
  if (!principal) throw new LookoutError("UNAUTHENTICATED");
  // Services are never admins, even when acting for one: an actor is attribution, not authority.
  if (principal.kind !== "user" || principal.user.role !== "admin") {
    throw new LookoutError("FORBIDDEN", "Only an administrator can do this; sign in with the admin login URL.");
  }
  await next();
};

/** The env var that holds a service's secret. */
export function serviceSecretVar(service: string): `SERVICE_SECRET_${string}` {
  return `SERVICE_SECRET_${service.toUpperCase().replace(/-/g, "_")}`;
}

async function authenticateService(c: Context<AppEnv>): Promise<Principal> {
  const service = c.req.header(SERVICE_HEADER) ?? "";
  if (!SERVICE_NAME_PATTERN.test(service)) {
    throw new LookoutError("UNAUTHENTICATED", "Service names are lowercase letters, digits and '-'.");
  }
  const url = new URL(c.req.url);
  // A clone, so the route handler can still read the body after the signature is checked.
  const body = new Uint8Array(await c.req.raw.clone().arrayBuffer());
  const verified = await verifyServiceRequest(
    c.req.raw.headers,
    { method: c.req.method, pathAndQuery: url.pathname + url.search, body },
    { secrets: { [service]: serviceSecret(c.env, service) }, nonces: new D1NonceStore(c.env.DB) },
  );
  return { kind: "service", service: verified.service, actor: verified.actor };
}

/** An empty secret counts as unset, so a blank line in `.dev.vars` cannot open the door. */
function serviceSecret(env: Env, service: string): string | undefined {
  const secret = env[serviceSecretVar(service)];
  return secret ? secret : undefined;
}

async function authenticateBrowser(c: Context<AppEnv>): Promise<Principal> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token || !SESSION_TOKEN_PATTERN.test(token)) throw new LookoutError("UNAUTHENTICATED");
  // SameSite=Lax keeps the cookie off cross-site POSTs, but not off writes from another port or
  // subdomain of the same site; a browser's own word about where a write comes from settles it.
  await assertBrowserWrite(c);
  const found = await new AuthSessionStore(c.env.DB).find(token, Date.now());
  if (!found) throw new LookoutError("UNAUTHENTICATED", "Your session has expired or was signed out; sign in again.");
  return { kind: "user", user: found.user, authSessionId: found.authSessionId };
}
