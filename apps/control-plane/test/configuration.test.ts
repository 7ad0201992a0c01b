import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ErrorBody } from "@lookout/protocol";
import { configurationProblems, SETTINGS } from "../src/config";
import type { Env } from "../src/env";
import worker from "../src/index";
import { ORIGIN } from "./support/auth";

/** The test bindings as a production deployment would have them: public URLs and a gateway container. */
function production(overrides: Record<string, unknown> = {}): Env {
  return {
    ...env,
    ASSETS: { fetch: () => Promise.resolve(new Response("dashboard")) },
    LOOKOUT_ENVIRONMENT: "production",
    PUBLIC_URL: "https://lookout.example.com",
    GATEWAY_URL: "https://gateway.example.com",
    // Deployments need secrets of at least 32 characters; the local test values are shorter.
    WS_TOKEN_SECRET: "production-ws-token-secret-0123456789",
    GATEWAY_SERVICE_SECRET: "production-gateway-service-secret-0123",
    GIT_CREDENTIAL_SECRET: "production-git-credential-secret-01234",
    ...overrides,
  } as unknown as Env;
}

/** A `GATEWAY_CONTAINER` namespace whose one object answers with `answer`. */
function fakeContainers(answer: (request: Request) => Response): DurableObjectNamespace {
  const stub = { fetch: (input: RequestInfo, init?: RequestInit) => Promise.resolve(answer(new Request(input, init))) };
  return { idFromName: (name: string) => name, get: () => stub } as unknown as DurableObjectNamespace;
}

/** One request through the Worker's own entry point, which checks the configuration first. */
async function health(workerEnv: Env): Promise<Response> {
  return worker.fetch(new Request(`${ORIGIN}/api/health`), workerEnv, createExecutionContext());
}

describe("the Worker's configuration check", () => {
  it("lets the local default (the test bindings) serve", async () => {
    expect(configurationProblems(env)).toEqual([]);
    expect((await health({ ...env })).status).toBe(200);
  });

  it("lets a complete production configuration serve", async () => {
    expect(configurationProblems(production())).toEqual([]);
    expect((await health(production())).status).toBe(200);
  });

  it("refuses every request of a deployment missing a secret, naming it and how to set it", async () => {
    const response = await health(production({ GATEWAY_SERVICE_SECRET: undefined }));
    expect(response.status).toBe(500);
    const body = ErrorBody.parse(await response.json());
    expect(body.error.code).toBe("CONFIGURATION_INVALID");
    expect(body.error.message).toContain("GATEWAY_SERVICE_SECRET (Secret the Worker signs gateway requests with) is not set");
    expect(body.error.message).toContain("wrangler secret put NAME --env production");
    expect(body.error.message).not.toContain("production-ws-token-secret");
  });

  it("names every missing deployment secret at once", () => {
    const missing = ["ADMIN_TOKEN_SHA256", "WS_TOKEN_SECRET", "SECRETS_ENCRYPTION_KEYS", "GATEWAY_SERVICE_SECRET", "GIT_CREDENTIAL_SECRET"];
    const problems = configurationProblems(production(Object.fromEntries(missing.map((name) => [name, undefined]))));
    expect(problems.map((problem) => problem.split(" ")[0])).toEqual(missing);
  });

  it("leaves a missing secret to fail closed where it is used when running locally", () => {
    expect(configurationProblems({ ...env, GATEWAY_SERVICE_SECRET: undefined })).toEqual([]);
  });

  it("refuses a deployment whose addresses are local or not https", () => {
    expect(configurationProblems(production({ PUBLIC_URL: "http://127.0.0.1:8787" }))).toEqual([
      "PUBLIC_URL must be the Worker's public https:// address, not http://127.0.0.1:8787",
    ]);
    expect(configurationProblems(production({ GATEWAY_URL: "http://127.0.0.1:8788", GATEWAY: undefined }))).toEqual([
      "GATEWAY_URL must be the gateway's public https:// address (or bind GATEWAY_CONTAINER), not http://127.0.0.1:8788",
    ]);
  });

  it("needs the gateway's public URL when the gateway is a container", () => {
    expect(configurationProblems(production({ GATEWAY_CONTAINER: fakeContainers(() => new Response()) }))).toEqual([
      "GATEWAY_PUBLIC_URL must be set with GATEWAY_CONTAINER (PUBLIC_URL + /gateway): sandboxes reach the model proxy there",
    ]);
  });

  it("forwards /gateway/… to the gateway container without the prefix, and nothing else", async () => {
    const seen: string[] = [];
    const workerEnv = production({
      GATEWAY: undefined,
      GATEWAY_PUBLIC_URL: "https://lookout.example.com/gateway",
      GATEWAY_CONTAINER: fakeContainers((request) => {
        seen.push(`${request.method} ${new URL(request.url).pathname}`);
        return new Response("from the gateway");
      }),
    });
    const proxied = await worker.fetch(
      new Request(`${ORIGIN}/gateway/model-proxy/anthropic/v1/messages`, { method: "POST", body: "{}" }),
      workerEnv,
      createExecutionContext(),
    );
    expect(await proxied.text()).toBe("from the gateway");
    expect((await health(workerEnv)).status).toBe(200);
    expect(seen).toEqual(["POST /model-proxy/anthropic/v1/messages"]);
  });

  it("refuses malformed values, in every environment, without echoing them", () => {
    const problems = configurationProblems({ ...env, SECRETS_ENCRYPTION_KEYS: "not a key list", PUBLIC_URL: "lookout" });
    expect(problems).toEqual([
      "PUBLIC_URL (The URL people, sandboxes and webhooks use to reach this Worker) must be an http(s) URL",
      "SECRETS_ENCRYPTION_KEYS (Keys that seal stored secrets) must be `version:base64key` pairs separated by commas",
    ]);
    expect(configurationProblems(production({ WS_TOKEN_SECRET: "short" }))).toEqual([
      "WS_TOKEN_SECRET (Key for signing WebSocket tokens) must be at least 32 characters (e.g. 32 random bytes)",
    ]);
  });

  it("keeps optional integration secrets optional", () => {
    const optional = Object.entries(SETTINGS)
      .filter(([name]) => name.startsWith("GITHUB_"))
      .map(([name, setting]) => [name, setting.required]);
    expect(new Set(optional.map(([, required]) => required))).toEqual(new Set(["optional"]));
    expect(configurationProblems(production({ GITHUB_WEBHOOK_SECRET: undefined, GITHUB_APP_ID: undefined }))).toEqual([]);
  });

  it("refuses a binding given as text", () => {
    expect(configurationProblems({ ...env, DB: "lookout" as unknown as D1Database })).toEqual([
      "DB (The D1 index (sessions, users, repositories, triggers)) must be a binding, not text",
    ]);
  });
});
