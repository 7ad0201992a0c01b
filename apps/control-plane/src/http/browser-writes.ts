import type { Context, MiddlewareHandler } from "hono";
import { LookoutError } from "@lookout/protocol";
import type { Env } from "../env";
import type { AppEnv } from "./app-env";
import { isJsonContentType } from "./validate";

/** Methods that may change something; the only ones these checks apply to. */
export const UNSAFE_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** `Sec-Fetch-Site` values that mean the request came from a page on another origin. */
const FOREIGN_FETCH_SITES: ReadonlySet<string> = new Set(["cross-site", "same-site"]);

/**
 * Refuses a state-changing request that a page on another origin could have made with the
 * browser's cookie. It runs for cookie-authenticated `/api/*` writes (from `requireAuth`) and for
 * the `/auth` writes (sign-in, sign-out); signed service requests, sandbox bearer routes and
 * webhooks carry their own credential and never reach it.
 *
 * The origin check: browsers send `Origin` on every cross-origin write, and a page cannot forge
 * it, so when present it must be one of Lookout's own origins (see `allowedOrigins`). Ports count:
 * a page on `http://127.0.0.1:3000` is another origin than Lookout on `:8787`, though cookies and
 * `SameSite` treat the two as the same site. Without `Origin`, a `Sec-Fetch-Site` of `same-site` or
 * `cross-site`, or a `Referer` naming another origin, still refuses. A request with none of the
 * three did not come from a cross-origin page of a current browser; it is a script holding the
 * cookie (curl, the start command, the end-to-end client), and is allowed.
 *
 * The body check: a body must be `application/json`, which a foreign page cannot send without a
 * CORS preflight that Lookout never grants; a request without a body (`POST …/stop`, `DELETE`)
 * needs no type. `text/plain` or a form carrying JSON is refused even from Lookout's own origin.
 */
export async function assertBrowserWrite(c: Context<AppEnv>): Promise<void> {
  if (!UNSAFE_METHODS.has(c.req.method)) return;
  assertOwnOrigin(c);
  await assertJsonOrEmptyBody(c);
}

/** `assertBrowserWrite` as middleware, for routes that are not behind `requireAuth`. */
export const browserWritesOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  await assertBrowserWrite(c);
  await next();
};

/**
 * The origins whose pages may write with the session cookie: `PUBLIC_URL`'s (where the start
 * command serves the dashboard and where login links point) and any listed in `TRUSTED_ORIGINS`
 * (for example a Vite dev server that proxies to the Worker). Unparseable entries are ignored, so a
 * typo closes the door rather than opening it.
 */
export function allowedOrigins(env: Pick<Env, "PUBLIC_URL" | "TRUSTED_ORIGINS">): Set<string> {
  const origins = new Set<string>();
  for (const entry of [env.PUBLIC_URL, ...(env.TRUSTED_ORIGINS ?? "").split(",")]) {
    const origin = originOf(entry.trim());
    if (origin) origins.add(origin);
  }
  return origins;
}

function assertOwnOrigin(c: Context<AppEnv>): void {
  const fetchSite = c.req.header("sec-fetch-site")?.toLowerCase();
  if (fetchSite && FOREIGN_FETCH_SITES.has(fetchSite)) {
    throw new LookoutError("FORBIDDEN_ORIGIN", "Pages on other origins cannot change anything here; use Lookout's own page.");
  }
  const origin = c.req.header("origin");
  const referer = c.req.header("referer");
  // `Origin` decides when present; `Referer` only speaks for a request that has none (some privacy
  // tools strip `Origin` but keep a trimmed `Referer`).
  const claimed = origin ?? referer;
  if (claimed === undefined) return;
  const allowed = allowedOrigins(c.env);
  const claimedOrigin = originOf(claimed);
  if (claimedOrigin && allowed.has(claimedOrigin)) return;
  // A page on the very origin the request was sent to is same-origin by definition (the dashboard
  // opened at http://localhost:8787 while PUBLIC_URL says 127.0.0.1): no other page can claim it.
  if (claimedOrigin && claimedOrigin === new URL(c.req.url).origin) return;
  const [home] = allowed;
  throw new LookoutError(
    "FORBIDDEN_ORIGIN",
    `This request came from ${JSON.stringify(claimedOrigin ?? claimed)}, which is not Lookout's origin${home ? ` (${home})` : ""}; open Lookout there and try again.`,
  );
}

async function assertJsonOrEmptyBody(c: Context<AppEnv>): Promise<void> {
  const contentType = c.req.header("content-type");
  if (contentType !== undefined) {
    if (isJsonContentType(contentType)) return;
    throw new LookoutError("UNSUPPORTED_MEDIA_TYPE", `Bodies must be application/json, not ${JSON.stringify(contentType)}.`);
  }
  // An untyped body (a `Blob` without a type) is as forgeable as `text/plain`. A clone is read so a
  // handler can still read the original; only requests that already break the rule get this far
  // with a body, so nothing legitimate pays for the copy.
  if (c.req.raw.body === null) return;
  if ((await c.req.raw.clone().arrayBuffer()).byteLength === 0) return;
  throw new LookoutError("UNSUPPORTED_MEDIA_TYPE", "This body has no Content-Type; send it as application/json.");
}

function originOf(value: string): string | null {
  if (!value) return null;
  try {
    const origin = new URL(value).origin;
    // Opaque origins (`null`, `data:`, `file:`) never match.
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}
