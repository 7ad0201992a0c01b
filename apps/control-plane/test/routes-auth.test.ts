import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import { call, errorCode } from "./support/auth";

/**
 * Routes reachable without a session or a signature, on purpose. Anything else under `/api` must
 * answer an anonymous caller with 401 `UNAUTHENTICATED`.
 */
const PUBLIC_ROUTES = new Set(["GET /api/health"]);

/**
 * Routes that authenticate with their own credential instead of `requireAuth` (WebSocket upgrades
 * carry a short-lived token or a sandbox token; webhooks a signature). They must still refuse an
 * anonymous caller.
 */
const SELF_AUTHENTICATED_ROUTES = new Set([
  "GET /api/sessions/:id/ws",
  "GET /api/sessions/:id/bridge",
  // A sandbox's bearer token (checked by the session), and GitHub's signature over the raw body.
  "POST /api/sessions/:id/git-credentials",
  "POST /api/webhooks/github",
  // Sentry's signature, or the automation's webhook key.
  "POST /api/triggers/sentry/:automationId",
  "POST /api/triggers/webhooks/:automationId",
  // Slack's signature over the raw body (refusals in slack-events.test.ts).
  "POST /api/slack/events",
  "POST /api/slack/interactions",
  "POST /api/slack/commands",
  // Linear's signature over the raw body (LinearWebhookClient); refusals in linear.test.ts.
  "POST /api/linear/webhook",
]);

/** Every concrete `/api` route the app registers, read from hono's route table. */
function apiRoutes(): { method: string; path: string }[] {
  const seen = new Set<string>();
  const routes: { method: string; path: string }[] = [];
  for (const route of app.routes) {
    if (!route.path.startsWith("/api/") || route.path.endsWith("*")) continue;
    // Middleware is registered under the method "ALL"; the handlers behind it are listed on their own.
    if (route.method === "ALL") continue;
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push({ method: route.method, path: route.path });
  }
  return routes;
}

function concretePath(path: string): string {
  return path.replace(/:[A-Za-z]+/g, "placeholder-1");
}

describe("authentication coverage", () => {
  const routes = apiRoutes();

  it("finds the routes it is meant to check", () => {
    const keys = routes.map((route) => `${route.method} ${route.path}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        "GET /api/me",
        "GET /api/models",
        "GET /api/repositories",
        "POST /api/repositories",
        "PUT /api/secrets/:name",
        "POST /api/secrets/rotate",
      ]),
    );
  });

  it.each(routes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "%s refuses an anonymous caller",
    async (key, route) => {
      const response = await call(concretePath(route.path), {
        method: route.method,
        ...(route.method === "GET" || route.method === "HEAD" ? {} : { headers: { "content-type": "application/json" }, body: "{}" }),
      });
      if (PUBLIC_ROUTES.has(key)) {
        expect(response.status).toBe(200);
      } else if (SELF_AUTHENTICATED_ROUTES.has(key)) {
        expect(response.status).toBeGreaterThanOrEqual(400);
      } else {
        expect(response.status).toBe(401);
        expect(await errorCode(response)).toBe("UNAUTHENTICATED");
      }
    },
  );

  it("refuses a forged or unknown session cookie", async () => {
    for (const cookie of ["lookout_session=forged-value-that-is-long-enough", "lookout_session=", "lookout_session=%00"]) {
      const response = await call("/api/me", { headers: { cookie } });
      expect(response.status).toBe(401);
    }
  });
});
