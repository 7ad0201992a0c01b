import { env } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { ACTOR_HEADER, type Author, SIGNATURE_HEADER, SIGNATURE_WINDOW_MS, signRequest } from "@lookout/protocol";
import { requireAuth, serviceSecretVar } from "../src/auth/middleware";
import type { Principal } from "../src/auth/principal";
import { D1NonceStore } from "../src/db/service-nonces";
import type { AppEnv } from "../src/http/app-env";
import { errorResponse } from "../src/http/errors";
import { ORIGIN, TEST_SERVICE, TEST_SERVICE_SECRET, call, errorCode, signedInit } from "./support/auth";

/** A router with only `requireAuth` in front, so a test sees the principal and the body a handler gets. */
const probe = new Hono<AppEnv>();
probe.onError(errorResponse);
probe.use("*", requireAuth);
probe.all("*", async (c) => c.json({ principal: c.get("principal"), body: await c.req.text() }));

async function probeCall(path: string, init: RequestInit, envOverride: Partial<AppEnv["Bindings"]> = {}) {
  return probe.request(`${ORIGIN}${path}`, init, { ...env, ...envOverride });
}

interface ProbeAnswer {
  principal: Principal;
  body: string;
}

const ada: Author = { userId: "ada", name: "Ada Lovelace", email: "ada@example.com" };

describe("signed service requests", () => {
  it("accepts a signed request and leaves the body readable by the handler", async () => {
    const body = JSON.stringify({ hello: "world" });
    const response = await probeCall("/api/anything?x=1", await signedInit("POST", "/api/anything?x=1", { body }));

    expect(response.status).toBe(200);
    const answer: ProbeAnswer = await response.json();
    expect(answer.principal).toEqual({ kind: "service", service: TEST_SERVICE, actor: null });
    expect(answer.body).toBe(body);
  });

  it("accepts requests signed by the plain lookout-v1 signer (no actor)", async () => {
    const headers = await signRequest({ service: TEST_SERVICE, method: "GET", pathAndQuery: "/api/models", body: "" }, TEST_SERVICE_SECRET);
    const response = await call("/api/models", { headers });
    expect(response.status).toBe(200);
  });

  it("refuses a replayed request", async () => {
    const init = await signedInit("GET", "/api/models");
    expect((await call("/api/models", init)).status).toBe(200);

    const replay = await call("/api/models", init);
    expect(replay.status).toBe(401);
    expect(await errorCode(replay)).toBe("REPLAYED_REQUEST");
  });

  it("refuses a request signed outside the time window", async () => {
    const old = await signedInit("GET", "/api/models", { now: Date.now() - SIGNATURE_WINDOW_MS - 60_000 });
    const response = await call("/api/models", old);
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe("STALE_REQUEST");

    const future = await signedInit("GET", "/api/models", { now: Date.now() + SIGNATURE_WINDOW_MS + 60_000 });
    expect(await errorCode(await call("/api/models", future))).toBe("STALE_REQUEST");
  });

  it("refuses a bad signature, a wrong secret, a changed body and a changed path", async () => {
    const tampered = await signedInit("GET", "/api/models");
    tampered.headers[SIGNATURE_HEADER] = "0".repeat(64);
    expect(await errorCode(await call("/api/models", tampered))).toBe("INVALID_SIGNATURE");

    const wrongSecret = await signedInit("GET", "/api/models", { secret: "not-the-secret" });
    expect(await errorCode(await call("/api/models", wrongSecret))).toBe("INVALID_SIGNATURE");

    const signed = await signedInit("POST", "/api/anything", { body: '{"amount":1}' });
    const changedBody = await probeCall("/api/anything", { ...signed, body: '{"amount":1000}' });
    expect(changedBody.status).toBe(401);
    expect(await errorCode(changedBody)).toBe("INVALID_SIGNATURE");

    const otherPath = await signedInit("GET", "/api/models");
    expect(await errorCode(await call("/api/repositories", otherPath))).toBe("INVALID_SIGNATURE");
  });

  it("refuses an unknown service and a service whose secret is empty (fail closed)", async () => {
    const unknown = await call("/api/models", await signedInit("GET", "/api/models", { service: "ghost-bot", secret: "anything" }));
    expect(unknown.status).toBe(503);
    expect(await errorCode(unknown)).toBe("SERVICE_NOT_CONFIGURED");

    const blank = await call("/api/models", await signedInit("GET", "/api/models"), { [serviceSecretVar(TEST_SERVICE)]: "" });
    expect(await errorCode(blank)).toBe("SERVICE_NOT_CONFIGURED");
  });

  it("refuses service names that could alias another service's env var", async () => {
    for (const service of ["Test-Bot", "test_bot", "TEST-BOT"]) {
      const response = await call("/api/models", await signedInit("GET", "/api/models", { service }));
      expect(response.status).toBe(401);
      expect(await errorCode(response)).toBe("UNAUTHENTICATED");
    }
  });

  it("never falls back to a cookie when the service signature fails", async () => {
    const bad = await signedInit("GET", "/api/models", { secret: "wrong" });
    const login = await call("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "test" }),
    });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const response = await call("/api/models", { headers: { ...bad.headers, cookie } });
    expect(response.status).toBe(401);
  });

  it("trusts a signed actor, including names outside ASCII", async () => {
    const actor: Author = { userId: "zoe", name: "Zoë 李" };
    const response = await call("/api/me", await signedInit("GET", "/api/me", { actor }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ user: actor, role: "member" });
  });

  it("refuses an actor header that the signature does not cover", async () => {
    const init = await signedInit("GET", "/api/me");
    init.headers[ACTOR_HEADER] = JSON.stringify(ada);
    const response = await call("/api/me", init);
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe("INVALID_SIGNATURE");
  });

  it("refuses a signed actor swapped for another", async () => {
    const init = await signedInit("GET", "/api/me", { actor: ada });
    init.headers[ACTOR_HEADER] = JSON.stringify({ ...ada, userId: "admin" });
    expect(await errorCode(await call("/api/me", init))).toBe("INVALID_SIGNATURE");
  });

  it("a service is never an admin, even acting for the admin", async () => {
    const body = JSON.stringify({ value: "v" });
    const asAdmin = await signedInit("PUT", "/api/secrets/FROM_BOT", { body, actor: { userId: "admin", name: "Admin" } });
    const response = await call("/api/secrets/FROM_BOT", asAdmin);
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("FORBIDDEN");
  });

  it("a service acting for nobody has no profile", async () => {
    const response = await call("/api/me", await signedInit("GET", "/api/me"));
    expect(response.status).toBe(403);
  });
});

describe("D1NonceStore", () => {
  it("claims a nonce once and prunes expired nonces on later claims", async () => {
    let now = 1_000_000;
    const store = new D1NonceStore(env.DB, () => now);

    expect(await store.claim("svc", "nonce-aaaaaaaa", now + 100)).toBe(true);
    expect(await store.claim("svc", "nonce-aaaaaaaa", now + 100)).toBe(false);
    expect(await store.claim("other", "nonce-aaaaaaaa", now + 100)).toBe(true);

    now += 101;
    expect(await store.claim("svc", "nonce-bbbbbbbb", now + 100)).toBe(true);
    const left = await env.DB.prepare(
      "SELECT service, nonce FROM service_nonces WHERE service IN ('svc', 'other') ORDER BY service, nonce",
    ).all();
    expect(left.results).toEqual([{ service: "svc", nonce: "nonce-bbbbbbbb" }]);
  });
});
