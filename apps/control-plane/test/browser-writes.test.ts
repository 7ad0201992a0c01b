import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../src/app";
import { ADMIN_TOKEN, adminCookie, call, errorCode, ORIGIN } from "./support/auth";

/**
 * Writes that do not take the browser's cookie: a sandbox's bearer token, GitHub's and Sentry's
 * signatures, an automation's webhook key. They are covered by their own tests; everything else
 * that can change state must resist forgery.
 */
const NOT_BROWSER_ROUTES = new Set([
  "POST /api/webhooks/github",
  "POST /api/sessions/:id/git-credentials",
  // Their refusals are in sentry-trigger.test.ts and webhook-trigger.test.ts.
  "POST /api/triggers/sentry/:automationId",
  "POST /api/triggers/webhooks/:automationId",
  // Slack's signature over the raw body; refusals in slack-events.test.ts.
  "POST /api/slack/events",
  "POST /api/slack/interactions",
  "POST /api/slack/commands",
  // Linear's signature over the raw body (LinearWebhookClient); refusals in linear.test.ts.
  "POST /api/linear/webhook",
]);

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Lookout's own origin, from `PUBLIC_URL` in `wrangler.toml`. */
const OWN_ORIGIN = new URL(env.PUBLIC_URL).origin;
/** Pages that must not be able to write: another site, another port of Lookout's host, no origin. */
const FOREIGN_ORIGINS = ["http://evil.example", `${new URL(env.PUBLIC_URL).protocol}//${new URL(env.PUBLIC_URL).hostname}:3000`, "null"];

/** Every state-changing route a browser reaches, read from hono's route table. */
function browserWriteRoutes(): { method: string; path: string }[] {
  const seen = new Set<string>();
  for (const route of app.routes) {
    if (!UNSAFE.has(route.method) || route.path.endsWith("*")) continue;
    if (!route.path.startsWith("/api/") && !route.path.startsWith("/auth/")) continue;
    const key = `${route.method} ${route.path}`;
    if (!NOT_BROWSER_ROUTES.has(key)) seen.add(key);
  }
  return [...seen].sort().map((key) => {
    const [method = "", path = ""] = key.split(" ");
    return { method, path };
  });
}

interface Fixture {
  cookie: string;
  repositoryId: string;
  sessionId: string;
}

/** A body the route would accept, so that a refusal is the only thing standing between it and a change. */
function validBody(key: string, fixture: Fixture): unknown {
  switch (key) {
    case "POST /auth/login":
      return { token: ADMIN_TOKEN };
    case "POST /api/repositories":
      return { kind: "local", path: "/srv/repos/forged", name: "forged" };
    case "PATCH /api/repositories/:id":
      return { name: "forged-name" };
    case "PUT /api/secrets/:name":
    case "PUT /api/repositories/:id/secrets/:name":
      return { value: "forged-value" };
    case "POST /api/sessions":
      return { repositoryId: fixture.repositoryId, title: "forged", prompt: "forged" };
    case "PATCH /api/sessions/:id":
      return { title: "forged" };
    case "POST /api/sessions/:id/prompts":
      return { requestId: "forged", text: "forged" };
    case "POST /api/sessions/:id/push-approvals/:approvalId":
      return { decision: "approve" };
    default:
      return {};
  }
}

function concretePath(path: string, fixture: Fixture): string {
  return path
    .replace(/^\/api\/repositories\/:id/, `/api/repositories/${fixture.repositoryId}`)
    .replace(/^\/api\/sessions\/:id/, `/api/sessions/${fixture.sessionId}`)
    .replace(":name", "FORGED_SECRET")
    .replace(":promptId", "prm_forged")
    .replace(":approvalId", "approval-forged");
}

/** Everything a forged write could change: every D1 table, and the session's own state. */
async function snapshot(fixture: Fixture): Promise<unknown> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations' ORDER BY name",
  ).all<{ name: string }>();
  const rows: Record<string, unknown[]> = {};
  for (const { name } of tables.results) rows[name] = (await env.DB.prepare(`SELECT * FROM "${name}" ORDER BY 1, 2`).all()).results;
  const detail = await call(`/api/sessions/${fixture.sessionId}`, { headers: { cookie: fixture.cookie } });
  const { session, queue, latestSeq }: { session: unknown; queue: unknown; latestSeq: number } = await detail.json();
  return { rows, session, queue, latestSeq };
}

async function createFixture(): Promise<Fixture> {
  const cookie = await adminCookie();
  const json = { cookie, "content-type": "application/json" };
  const repository = await call("/api/repositories", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ kind: "local", path: "/srv/repos/forgery-target", name: "forgery-target" }),
  });
  expect(repository.status).toBe(201);
  const repositoryId = (await repository.json<{ repository: { id: string } }>()).repository.id;
  const session = await call("/api/sessions", { method: "POST", headers: json, body: JSON.stringify({ repositoryId, title: "target" }) });
  expect(session.status).toBe(201);
  const sessionId = (await session.json<{ session: { id: string } }>()).session.id;
  return { cookie, repositoryId, sessionId };
}

describe("forged browser writes", () => {
  const routes = browserWriteRoutes();
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await createFixture();
  });

  it("finds the routes it is meant to check", () => {
    expect(routes.map((route) => `${route.method} ${route.path}`)).toEqual(
      expect.arrayContaining([
        "POST /auth/login",
        "POST /auth/logout",
        "POST /api/sessions",
        "POST /api/sessions/:id/ws-token",
        "POST /api/sessions/:id/stop",
        "PUT /api/secrets/:name",
        "DELETE /api/repositories/:id",
      ]),
    );
  });

  it.each(routes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "%s refuses a text/plain body and other origins, and changes nothing",
    async (key, route) => {
      const path = concretePath(route.path, fixture);
      const body = JSON.stringify(validBody(key, fixture));
      const before = await snapshot(fixture);

      for (const contentType of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]) {
        const response = await call(path, {
          method: route.method,
          headers: { cookie: fixture.cookie, "content-type": contentType, origin: OWN_ORIGIN },
          body,
        });
        expect(response.status, contentType).toBe(415);
        expect(await errorCode(response)).toBe("UNSUPPORTED_MEDIA_TYPE");
      }
      const untyped = await call(path, { method: route.method, headers: { cookie: fixture.cookie }, body: new Blob([body]) });
      expect(untyped.status, "a body without a Content-Type").toBe(415);

      for (const origin of FOREIGN_ORIGINS) {
        const response = await call(path, {
          method: route.method,
          headers: { cookie: fixture.cookie, "content-type": "application/json", origin },
          body,
        });
        expect(response.status, origin).toBe(403);
        expect(await errorCode(response)).toBe("FORBIDDEN_ORIGIN");
      }
      const referred = await call(path, {
        method: route.method,
        headers: { cookie: fixture.cookie, "content-type": "application/json", referer: "http://evil.example/page" },
        body,
      });
      expect(referred.status, "a Referer from another origin").toBe(403);

      expect(await snapshot(fixture)).toEqual(before);
    },
  );

  it("lets the same writes through from Lookout's own origin with a JSON body, or with no body at all", async () => {
    const headers = { cookie: fixture.cookie, "content-type": "application/json", origin: OWN_ORIGIN, "sec-fetch-site": "same-origin" };
    const created = await call("/api/sessions", {
      method: "POST",
      headers,
      body: JSON.stringify({ repositoryId: fixture.repositoryId, title: "allowed" }),
    });
    expect(created.status).toBe(201);
    const stored = await call("/api/secrets/ALLOWED_SECRET", { method: "PUT", headers, body: JSON.stringify({ value: "v" }) });
    expect(stored.status).toBe(204);
    const withoutBody = await call(`/api/sessions/${fixture.sessionId}/archive`, {
      method: "POST",
      headers: { cookie: fixture.cookie, origin: OWN_ORIGIN },
    });
    expect(withoutBody.status).toBe(200);
    // A script with the cookie (no Origin, no Sec-Fetch-Site) is not a forged page.
    const scripted = await call(`/api/sessions/${fixture.sessionId}/unarchive`, { method: "POST", headers: { cookie: fixture.cookie } });
    expect(scripted.status).toBe(200);
  });

  it("allows an origin listed in TRUSTED_ORIGINS, such as the dashboard's dev server", async () => {
    const devServer = "http://localhost:5173";
    const init = (): RequestInit => ({
      method: "PUT",
      headers: { cookie: fixture.cookie, "content-type": "application/json", origin: devServer },
      body: JSON.stringify({ value: "v" }),
    });
    expect((await call("/api/secrets/DEV_SECRET", init())).status).toBe(403);
    expect((await call("/api/secrets/DEV_SECRET", init(), { TRUSTED_ORIGINS: `not a url, ${devServer}` })).status).toBe(204);
  });

  it("allows a page on the very origin the request went to, even when PUBLIC_URL names the host differently", async () => {
    const init = (origin: string): RequestInit => ({
      method: "PUT",
      headers: { cookie: fixture.cookie, "content-type": "application/json", origin },
      body: JSON.stringify({ value: "v" }),
    });
    // `call` sends every request to ORIGIN, which PUBLIC_URL does not name: the same server by another name.
    expect(new URL(env.PUBLIC_URL).origin).not.toBe(ORIGIN);
    expect((await call("/api/secrets/SAME_ORIGIN", init(ORIGIN))).status).toBe(204);
    expect((await call("/api/secrets/SAME_ORIGIN", init(`${ORIGIN}:3000`))).status).toBe(403);
  });
});
