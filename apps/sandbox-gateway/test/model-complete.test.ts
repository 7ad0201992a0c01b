import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelCompleteResponse, signRequest } from "@lookout/protocol";
import { type ScriptedModel, startScriptedModel } from "@lookout/scripted-model";
import { LocalProvider, silentLogger } from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGatewaySettings, type GatewaySettings, type ModelSettings } from "../src/config";
import { complete, smallModel } from "../src/model-complete";
import { startGateway, type RunningGateway } from "../src/server";

const SECRET = "control-plane-secret-for-tests-0123456789";
const SCRIPTED_TOKEN = "offline-model-token-0123456789";

/** The classifier's prompt as the control plane writes it (`triggers/repository-classifier.ts`). */
const CLASSIFICATION = [
  "Which of these repositories is the request below about?",
  "- acme/billing: invoices, payments and the checkout",
  "- acme/website: the marketing site and its blog",
  "",
  "```untrusted",
  "the checkout charges twice when an invoice is paid by card",
  "```",
].join("\n");

const NO_MODELS: ModelSettings = {
  scriptedUrl: undefined,
  scriptedToken: undefined,
  anthropic: undefined,
  openai: undefined,
  openaiCompatible: undefined,
};

let dataDir: string;
let provider: LocalProvider;
let scripted: ScriptedModel;
let gateway: RunningGateway;

function settings(models: ModelSettings, name: string): GatewaySettings {
  return {
    repoRoot: dataDir,
    host: "127.0.0.1",
    port: 0,
    dataDir: join(dataDir, name),
    serviceSecret: SECRET,
    publicUrl: undefined,
    provider: { kind: "local", bridgeBundle: "/nonexistent", opencodeBin: undefined, bwrapPath: "/usr/bin/bwrap", unsafeNoSandbox: false },
    models,
    logLevel: "error",
  };
}

async function signedPost(base: RunningGateway, body: string, secret = SECRET): Promise<Response> {
  const path = "/v1/model/complete";
  const headers = await signRequest({ service: "control-plane", method: "POST", pathAndQuery: path, body }, secret);
  return fetch(`${base.url}${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body });
}

const request = (user: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ system: "Answer with JSON only.", user, maxTokens: 200, ...extra });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lookout-model-complete-"));
  provider = await LocalProvider.start({ dataDir, bridgeBundle: "/nonexistent", opencodeBin: undefined });
  scripted = await startScriptedModel({ token: SCRIPTED_TOKEN });
  gateway = await startGateway({
    ...settings({ ...NO_MODELS, scriptedUrl: scripted.url, scriptedToken: SCRIPTED_TOKEN }, "scripted"),
    sandboxProvider: provider,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await gateway.close();
  await scripted.close();
  await provider.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("POST /v1/model/complete", () => {
  it("answers a signed request with the offline model's classification, through the gateway's own token", async () => {
    const response = await signedPost(gateway, request(CLASSIFICATION));
    expect(response.status).toBe(200);
    const answer = ModelCompleteResponse.parse(await response.json());
    expect(answer.model).toBe("scripted/demo");
    expect(JSON.parse(answer.text)).toEqual({ repository: "acme/billing", confidence: expect.any(Number) });
    expect(JSON.parse(answer.text).confidence).toBeGreaterThanOrEqual(0.7);
    const seen = scripted.requests.at(-1);
    expect(seen).toMatchObject({ model: "demo", script: "classify-repository", stream: false, latestUserText: CLASSIFICATION });
  });

  it("refuses an unsigned request and one signed with another secret, before the model is asked", async () => {
    const before = scripted.requests.length;
    const unsigned = await fetch(`${gateway.url}/v1/model/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: request(CLASSIFICATION),
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error: { code: "UNAUTHENTICATED" } });
    const forged = await signedPost(gateway, request(CLASSIFICATION), "not-the-secret");
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: "INVALID_SIGNATURE" } });
    expect(scripted.requests.length).toBe(before);
  });

  it("refuses malformed and out-of-bounds requests with registry codes, before the model is asked", async () => {
    const before = scripted.requests.length;
    const notJson = await signedPost(gateway, "{not json");
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: "INVALID_JSON" } });
    for (const body of [
      request(CLASSIFICATION, { maxTokens: 100_000 }),
      request("x".repeat(40_000)),
      request(CLASSIFICATION, { model: "anthropic/claude-opus-4-1" }),
      JSON.stringify({ user: CLASSIFICATION, maxTokens: 10 }),
    ]) {
      const refused = await signedPost(gateway, body);
      expect(refused.status).toBe(422);
      expect(await refused.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    }
    expect(scripted.requests.length).toBe(before);
  });

  it("fails closed with MODEL_NOT_CONFIGURED on a gateway that has no model", async () => {
    const bare = await startGateway({ ...settings(NO_MODELS, "bare"), sandboxProvider: provider, logger: silentLogger });
    try {
      const response = await signedPost(bare, request(CLASSIFICATION));
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        error: { code: "MODEL_NOT_CONFIGURED", message: expect.stringContaining("LOOKOUT_SMALL_MODEL") },
      });
    } finally {
      await bare.close();
    }
  });
});

describe("the small model the gateway answers with", () => {
  const anthropic = { apiKey: "sk-ant", baseUrl: "https://api.anthropic.test/v1", models: ["claude-sonnet-4-5", "claude-haiku-4-5"] };
  const openai = { apiKey: "sk-oa", baseUrl: "https://api.openai.test/v1", models: ["gpt-5", "gpt-5-mini"] };

  it("is LOOKOUT_SMALL_MODEL when set, else a small model of the first configured provider", () => {
    expect(smallModel({ ...NO_MODELS, anthropic, openai, smallModel: "openai/gpt-4.1" })).toMatchObject({ name: "gpt-4.1", api: "openai" });
    expect(smallModel({ ...NO_MODELS, anthropic, openai })).toMatchObject({ name: "claude-haiku-4-5", api: "anthropic" });
    expect(smallModel({ ...NO_MODELS, openai, scriptedUrl: "http://127.0.0.1:1/v1" })).toMatchObject({ name: "gpt-5-mini", api: "openai" });
    expect(
      smallModel({
        ...NO_MODELS,
        openaiCompatible: { id: "ollama", baseUrl: "http://127.0.0.1:1/v1", apiKey: undefined, models: ["llama3"] },
      }),
    ).toMatchObject({ name: "llama3", api: "openai-compatible" });
    expect(smallModel({ ...NO_MODELS, scriptedUrl: "http://127.0.0.1:1/v1" })).toMatchObject({ name: "demo", target: { id: "scripted" } });
  });

  it("is refused when LOOKOUT_SMALL_MODEL names a provider the gateway does not have", () => {
    expect(() => smallModel({ ...NO_MODELS, anthropic, smallModel: "openai/gpt-5-mini" })).toThrow(
      expect.objectContaining({ code: "MODEL_NOT_CONFIGURED", message: expect.stringContaining('no provider "openai"') }),
    );
  });

  it("comes from LOOKOUT_SMALL_MODEL, which must be written provider/model", () => {
    const env = { LOOKOUT_SCRIPTED_MODEL_URL: "http://127.0.0.1:1/v1" };
    expect(loadGatewaySettings({ ...env, LOOKOUT_SMALL_MODEL: "scripted/demo" }, dataDir).models.smallModel).toBe("scripted/demo");
    expect(loadGatewaySettings(env, dataDir).models.smallModel).toBeUndefined();
    expect(() => loadGatewaySettings({ ...env, LOOKOUT_SMALL_MODEL: "haiku" }, dataDir)).toThrow(/LOOKOUT_SMALL_MODEL/);
  });
});

interface Upstream {
  url: string;
  server: Server;
  seen: { path: string; headers: IncomingHttpHeaders; body: unknown }[];
  /** Ends every held request (the ones `answer` left unanswered). */
  releaseAll: () => void;
  /** How many held requests their caller abandoned. */
  abandoned: () => number;
}

/** A model API whose answer to each request the test decides; `null` holds the request open. */
async function startUpstream(answer: () => { status: number; body: unknown } | null): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const held: (() => void)[] = [];
  let abandoned = 0;
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      seen.push({ path: incoming.url ?? "", headers: incoming.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      const reply = answer();
      if (!reply) {
        held.push(() => response.end());
        response.on("close", () => {
          if (!response.writableFinished) abandoned += 1;
        });
        return;
      }
      response.writeHead(reply.status, { "content-type": "application/json" });
      response.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    seen,
    releaseAll: () => held.splice(0).forEach((end) => end()),
    abandoned: () => abandoned,
  };
}

/** Waits for `condition`, checking each turn of the event loop, up to three seconds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function stop(upstream: Upstream): Promise<void> {
  upstream.releaseAll();
  await new Promise<void>((resolve) => {
    upstream.server.close(() => resolve());
    upstream.server.closeAllConnections();
  });
}

describe("calling the provider", () => {
  const ask = { system: "Answer with JSON only.", user: "which one?", maxTokens: 50 };

  it("speaks Anthropic's Messages API with the gateway's key", async () => {
    const upstream = await startUpstream(() => ({ status: 200, body: { content: [{ type: "text", text: '{"repository":null}' }] } }));
    try {
      const models = { ...NO_MODELS, anthropic: { apiKey: "sk-ant-real", baseUrl: `${upstream.url}/v1`, models: ["claude-haiku-4-5"] } };
      const answer = await complete(ask, { models, logger: silentLogger });
      expect(answer).toEqual({ text: '{"repository":null}', model: "anthropic/claude-haiku-4-5" });
      const seen = upstream.seen[0]!;
      expect(seen.path).toBe("/v1/messages");
      expect(seen.headers["x-api-key"]).toBe("sk-ant-real");
      expect(seen.headers["anthropic-version"]).toBe("2023-06-01");
      expect(seen.body).toEqual({
        model: "claude-haiku-4-5",
        max_tokens: 50,
        system: ask.system,
        messages: [{ role: "user", content: ask.user }],
      });
    } finally {
      await stop(upstream);
    }
  });

  it("sends OpenAI max_completion_tokens and a bearer key, and names a refused key MODEL_AUTH_FAILED", async () => {
    let status = 200;
    const upstream = await startUpstream(() =>
      status === 200
        ? { status, body: { choices: [{ message: { content: "ok" } }] } }
        : { status, body: { error: { message: "bad key" } } },
    );
    try {
      const models = { ...NO_MODELS, openai: { apiKey: "sk-oa-real", baseUrl: `${upstream.url}/v1`, models: ["gpt-5-mini"] } };
      expect(await complete(ask, { models, logger: silentLogger })).toEqual({ text: "ok", model: "openai/gpt-5-mini" });
      expect(upstream.seen[0]!.headers.authorization).toBe("Bearer sk-oa-real");
      expect(upstream.seen[0]!.body).toMatchObject({ model: "gpt-5-mini", max_completion_tokens: 50, stream: false });
      status = 401;
      await expect(complete(ask, { models, logger: silentLogger })).rejects.toMatchObject({ code: "MODEL_AUTH_FAILED" });
      status = 500;
      await expect(complete(ask, { models, logger: silentLogger })).rejects.toMatchObject({ code: "MODEL_API_ERROR" });
    } finally {
      await stop(upstream);
    }
  });

  it("names an answer without text MODEL_OUTPUT_INVALID", async () => {
    const upstream = await startUpstream(() => ({ status: 200, body: { choices: [] } }));
    try {
      const models = { ...NO_MODELS, scriptedUrl: `${upstream.url}/v1` };
      await expect(complete(ask, { models, logger: silentLogger })).rejects.toMatchObject({ code: "MODEL_OUTPUT_INVALID" });
    } finally {
      await stop(upstream);
    }
  });

  it("stops the provider call when the control plane stops waiting", async () => {
    const upstream = await startUpstream(() => null);
    const held = await startGateway({
      ...settings({ ...NO_MODELS, scriptedUrl: `${upstream.url}/v1` }, "held"),
      sandboxProvider: provider,
      logger: silentLogger,
    });
    try {
      const path = "/v1/model/complete";
      const body = request(CLASSIFICATION);
      const headers = await signRequest({ service: "control-plane", method: "POST", pathAndQuery: path, body }, SECRET);
      const caller = new AbortController();
      const answer = fetch(`${held.url}${path}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body,
        signal: caller.signal,
      });
      await until(() => upstream.seen.length === 1, "the provider to be asked");
      caller.abort();
      await expect(answer).rejects.toThrow();
      await until(() => upstream.abandoned() === 1, "the provider call to be dropped");
    } finally {
      await held.close();
      await stop(upstream);
    }
  });

  it("gives up with MODEL_TIMEOUT when the provider does not answer in time", async () => {
    const upstream = await startUpstream(() => null);
    try {
      const models = { ...NO_MODELS, scriptedUrl: `${upstream.url}/v1` };
      await expect(complete(ask, { models, logger: silentLogger, timeoutMs: 100 })).rejects.toMatchObject({
        code: "MODEL_TIMEOUT",
        message: expect.stringContaining("within 100 ms"),
      });
      expect(upstream.seen).toHaveLength(1);
    } finally {
      await stop(upstream);
    }
  });
});
