import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signRequest, type CreateSandboxRequest } from "@lookout/protocol";
import {
  providerError,
  silentLogger,
  type SandboxHandle,
  type SandboxProvider,
  type SandboxProviderCapabilities,
  type SandboxState,
} from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxLiveness } from "../src/model-proxy";
import type { SandboxRecord } from "../src/registry";
import { startGateway, type RunningGateway } from "../src/server";

const SECRET = "control-plane-secret-for-tests-0123456789";
const SCRIPTED_TOKEN = "offline-model-token-0123456789";
const TTL_MS = 15_000;

/**
 * A remote provider played in memory: every `status` is counted (each would be a vendor API call),
 * and a snapshot stops the sandbox, as Vercel's does.
 */
class FakeRemoteProvider implements SandboxProvider {
  readonly name = "vercel" as const;
  readonly capabilities: SandboxProviderCapabilities = {
    snapshots: true,
    restore: true,
    timeouts: true,
    maxTimeoutMs: 3_600_000,
    snapshotStopsSandbox: true,
    network: "vendor",
  };
  readonly states = new Map<string, SandboxState>();
  statusCalls = 0;
  /** When set, `status` throws this instead of answering. */
  failure: Error | undefined;

  create(config: { sandboxId: string }): Promise<SandboxHandle> {
    const providerId = `remote-${config.sandboxId}`;
    this.states.set(providerId, "running");
    return Promise.resolve({ providerId, status: "running" });
  }
  status(providerId: string): Promise<SandboxState> {
    this.statusCalls += 1;
    if (this.failure) return Promise.reject(this.failure);
    const state = this.states.get(providerId);
    if (!state) return Promise.reject(providerError("vercel", `no sandbox ${providerId}`, { kind: "permanent", reason: "not_found" }));
    return Promise.resolve(state);
  }
  snapshot(providerId: string): Promise<{ snapshotId: string }> {
    this.states.set(providerId, "stopped");
    return Promise.resolve({ snapshotId: `snap-${providerId}` });
  }
  restore(): Promise<SandboxHandle> {
    return Promise.reject(new Error("not used"));
  }
  deleteSnapshot(): Promise<void> {
    return Promise.reject(new Error("not used"));
  }
  terminate(providerId: string): Promise<void> {
    this.states.delete(providerId);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function record(providerId: string, extra: Partial<SandboxRecord> = {}): SandboxRecord {
  return { sandboxId: `sbx-${providerId}`, provider: "vercel", providerId, tokenHash: "0".repeat(64), createdAtMs: 0, ...extra };
}

describe("whether a sandbox still runs, as the model proxy asks it", () => {
  it("asks a remote provider once per TTL, and refuses once the sandbox is seen stopped", async () => {
    const provider = new FakeRemoteProvider();
    let nowMs = 1_000_000;
    const liveness = new SandboxLiveness(provider, TTL_MS, () => nowMs);
    provider.states.set("a", "running");

    await liveness.assertRunning(record("a"));
    nowMs += TTL_MS - 1;
    await liveness.assertRunning(record("a"));
    expect(provider.statusCalls).toBe(1);

    provider.states.set("a", "stopped");
    nowMs += 1;
    await expect(liveness.assertRunning(record("a"))).rejects.toMatchObject({
      code: "INVALID_TOKEN",
      message: expect.stringContaining("is stopped"),
    });
    expect(provider.statusCalls).toBe(2);
  });

  it("asks the local provider every time", async () => {
    const states = new Map<string, SandboxState>([["b", "running"]]);
    let calls = 0;
    const local = {
      name: "local" as const,
      status: (id: string) => {
        calls += 1;
        return Promise.resolve(states.get(id) ?? "unknown");
      },
    };
    const liveness = new SandboxLiveness(local, TTL_MS, () => 0);
    await liveness.assertRunning(record("b"));
    states.set("b", "stopped");
    await expect(liveness.assertRunning(record("b"))).rejects.toMatchObject({ code: "INVALID_TOKEN" });
    expect(calls).toBe(2);
  });

  it("refuses a record marked stopped without asking, a gone sandbox, and says retry when the provider cannot answer", async () => {
    const provider = new FakeRemoteProvider();
    const liveness = new SandboxLiveness(provider, TTL_MS, () => 0);
    provider.states.set("c", "running");
    await expect(liveness.assertRunning(record("c", { stoppedAtMs: 5 }))).rejects.toMatchObject({ code: "INVALID_TOKEN" });
    expect(provider.statusCalls).toBe(0);

    await expect(liveness.assertRunning(record("missing"))).rejects.toMatchObject({
      code: "INVALID_TOKEN",
      message: expect.stringContaining("is gone"),
    });

    provider.failure = providerError("vercel", "vendor API down", { kind: "transient", reason: "unavailable" });
    await expect(liveness.assertRunning(record("c"))).rejects.toMatchObject({ code: "PROVIDER_TRANSIENT" });
  });
});

interface Upstream {
  url: string;
  server: Server;
  seen: { path: string; headers: IncomingHttpHeaders }[];
}

/** An OpenAI-compatible API that answers every request at once and records what it was sent. */
async function startUpstream(): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      seen.push({ path: request.url ?? "", headers: request.headers });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ object: "list", data: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
}

describe("the model proxy in front of a remote provider, the offline model and a keyless endpoint", () => {
  let dataDir: string;
  let upstream: Upstream;
  let provider: FakeRemoteProvider;
  let gateway: RunningGateway;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "lookout-model-proxy-"));
    upstream = await startUpstream();
    provider = new FakeRemoteProvider();
    gateway = await startGateway({
      repoRoot: dataDir,
      host: "127.0.0.1",
      port: 0,
      dataDir,
      serviceSecret: SECRET,
      publicUrl: undefined,
      provider: { kind: "vercel", token: "unused", teamId: "unused", projectId: "unused", baseSnapshotId: undefined },
      models: {
        scriptedUrl: `${upstream.url}/scripted/v1`,
        scriptedToken: SCRIPTED_TOKEN,
        anthropic: undefined,
        openai: undefined,
        openaiCompatible: { id: "ollama", baseUrl: `${upstream.url}/ollama/v1`, apiKey: undefined, models: ["llama3"] },
      },
      logLevel: "error",
      sandboxProvider: provider,
      logger: silentLogger,
    });
  });

  afterAll(async () => {
    await gateway.close();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function signed(method: string, path: string, body?: unknown): Promise<Response> {
    const payload = body === undefined ? "" : JSON.stringify(body);
    const headers = await signRequest({ service: "control-plane", method, pathAndQuery: path, body: payload }, SECRET);
    return fetch(`${gateway.url}${path}`, {
      method,
      headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
      ...(payload ? { body: payload } : {}),
    });
  }

  async function createSandbox(sandboxId: string): Promise<string> {
    const request: CreateSandboxRequest = {
      sessionId: `session-${sandboxId}`,
      sandboxId,
      sandboxToken: `token-${sandboxId}-`.padEnd(40, "x"),
      controlPlaneUrl: "http://127.0.0.1:8787",
      repository: { kind: "remote", cloneUrl: "https://example.com/acme/app.git" },
      baseBranch: "main",
      branch: "lookout/x",
      model: "scripted/demo",
      env: {},
      timeoutMs: 60_000,
    };
    expect((await signed("POST", "/v1/sandboxes", request)).status).toBe(201);
    return request.sandboxToken;
  }

  const complete = (providerId: string, token: string) =>
    fetch(`${gateway.url}/model-proxy/${providerId}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "demo", messages: [] }),
    });

  it("sends the offline model its token and a keyless endpoint no credential, never the sandbox's token", async () => {
    const token = await createSandbox("sbx-keys");
    // Creating the sandbox listed the offline model's models, with its token.
    expect(upstream.seen.find((request) => request.path === "/scripted/v1/models")?.headers.authorization).toBe(`Bearer ${SCRIPTED_TOKEN}`);

    expect((await complete("scripted", token)).status).toBe(200);
    const scripted = upstream.seen.at(-1);
    expect(scripted?.path).toBe("/scripted/v1/chat/completions");
    expect(scripted?.headers.authorization).toBe(`Bearer ${SCRIPTED_TOKEN}`);

    expect((await complete("ollama", token)).status).toBe(200);
    const keyless = upstream.seen.at(-1);
    expect(keyless?.path).toBe("/ollama/v1/chat/completions");
    expect(keyless?.headers.authorization).toBeUndefined();
    expect(keyless?.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(upstream.seen)).not.toContain(token);
  });

  it("refuses a sandbox at once when a snapshot stops it, while its record still exists", async () => {
    const token = await createSandbox("sbx-snap");
    expect((await complete("scripted", token)).status).toBe(200);
    const callsBefore = provider.statusCalls;

    expect((await signed("POST", "/v1/sandboxes/sbx-snap/snapshot", {})).status).toBe(200);
    const refused = await complete("scripted", token);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "INVALID_TOKEN", message: expect.stringContaining("stopped") } });
    // Refused from the registry, not from a fresh status call (the cached "running" has not expired).
    expect(provider.statusCalls).toBe(callsBefore);
    expect(await (await signed("GET", "/v1/sandboxes/sbx-snap")).json()).toMatchObject({ sandboxId: "sbx-snap", status: "stopped" });
  });
});
