import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelProviderConfigList, SANDBOX_TOKEN_API_KEY, signRequest, type CreateSandboxRequest } from "@lookout/protocol";
import { LocalProvider, silentLogger, UPLINK } from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewaySettings, ModelSettings } from "../src/config";
import { startGateway, type RunningGateway } from "../src/server";

const SECRET = "control-plane-secret-for-tests-0123456789";
const PROBE_COMMAND = ["/bin/sh", "-c", 'eval "$PROBE_SCRIPT"'];

let dataDir: string;
let gateway: RunningGateway;
let localProvider: LocalProvider;
let upstream: FakeUpstream;

interface FakeUpstream {
  url: string;
  server: Server;
  seen: { method: string; path: string; headers: IncomingHttpHeaders; body: string }[];
  /** Resolves the held-back second half of the streamed response. */
  release: () => void;
}

/** A model API that streams its answer in two parts, the second only once the test says so. */
async function startUpstream(): Promise<FakeUpstream> {
  let release: () => void = () => {};
  const seen: FakeUpstream["seen"] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      seen.push({
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write("data: first\n\n");
      void new Promise<void>((resolve) => (release = resolve)).then(() => response.end("data: second\n\n"));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    seen,
    release: () => release(),
  };
}

function settings(overrides: Partial<GatewaySettings> = {}): GatewaySettings {
  const models: ModelSettings = {
    scriptedUrl: undefined,
    scriptedToken: undefined,
    anthropic: { apiKey: "sk-ant-real-key", baseUrl: `${upstream.url}/v1`, models: ["claude-sonnet-4-5"] },
    openai: undefined,
    openaiCompatible: undefined,
  };
  return {
    repoRoot: dataDir,
    host: "127.0.0.1",
    port: 0,
    dataDir,
    serviceSecret: SECRET,
    publicUrl: undefined,
    provider: { kind: "local", bridgeBundle: "/nonexistent", opencodeBin: undefined, bwrapPath: "/usr/bin/bwrap", unsafeNoSandbox: false },
    models,
    logLevel: "error",
    ...overrides,
  };
}

async function signedFetch(
  method: string,
  path: string,
  body?: unknown,
  options: { now?: number; secret?: string; base?: RunningGateway } = {},
): Promise<Response> {
  const payload = body === undefined ? "" : JSON.stringify(body);
  const headers = await signRequest(
    { service: "control-plane", method, pathAndQuery: path, body: payload },
    options.secret ?? SECRET,
    options.now,
  );
  return fetch(`${(options.base ?? gateway).url}${path}`, {
    method,
    headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
    ...(payload ? { body: payload } : {}),
  });
}

function createRequest(sandboxId: string, script: string, extra: Partial<CreateSandboxRequest> = {}): CreateSandboxRequest {
  return {
    sessionId: "session-1",
    sandboxId,
    sandboxToken: `token-${sandboxId}-`.padEnd(40, "x"),
    controlPlaneUrl: "http://127.0.0.1:8787",
    repository: { kind: "remote", cloneUrl: "https://example.com/acme/app.git" },
    baseBranch: "main",
    branch: "lookout/session-1",
    model: "anthropic/claude-opus-4-1",
    env: { PROBE_SCRIPT: script },
    timeoutMs: 60_000,
    ...extra,
  };
}

function workspaceFile(sandboxId: string, name: string): string {
  return join(localProvider.sandboxDir(sandboxId), "workspace", name);
}

/** Polls the gateway until the sandbox reports `status`, with a deadline. */
async function waitForStatus(sandboxId: string, status: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = (await (await signedFetch("GET", `/v1/sandboxes/${sandboxId}`)).json()) as { status?: string };
    if (info.status === status) return;
    if (Date.now() > deadline) throw new Error(`${sandboxId} did not become ${status} (last: ${String(info.status)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function waitForFile(path: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return readFileSync(path, "utf8");
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lookout-gateway-"));
  upstream = await startUpstream();
  localProvider = await LocalProvider.start({ dataDir, bridgeBundle: "/nonexistent", opencodeBin: undefined, command: PROBE_COMMAND });
  gateway = await startGateway({ ...settings(), sandboxProvider: localProvider, logger: silentLogger });
});

afterAll(async () => {
  await gateway.close();
  await localProvider.close();
  await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
  rmSync(dataDir, { recursive: true, force: true });
});

describe("signed requests", () => {
  it("serves /healthz without a signature", async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, provider: "local" });
  });

  it("accepts a signed request", async () => {
    const response = await signedFetch("GET", "/v1/capabilities");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ provider: "local", snapshots: true, restore: true, timeouts: true });
  });

  it("refuses an unsigned request", async () => {
    const response = await fetch(`${gateway.url}/v1/capabilities`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "UNAUTHENTICATED" } });
  });

  it("refuses a signature made with the wrong secret", async () => {
    const response = await signedFetch("GET", "/v1/capabilities", undefined, { secret: "not-the-secret" });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "INVALID_SIGNATURE" } });
  });

  it("refuses a body that is not the one signed", async () => {
    const headers = await signRequest({ service: "control-plane", method: "POST", pathAndQuery: "/v1/sandboxes", body: "{}" }, SECRET);
    const response = await fetch(`${gateway.url}/v1/sandboxes`, { method: "POST", headers, body: '{"sandboxId":"x"}' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "INVALID_SIGNATURE" } });
  });

  it("refuses a stale timestamp", async () => {
    const response = await signedFetch("GET", "/v1/capabilities", undefined, { now: Date.now() - 10 * 60_000 });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "STALE_REQUEST" } });
  });

  it("refuses a replayed request", async () => {
    const headers = await signRequest({ service: "control-plane", method: "GET", pathAndQuery: "/v1/capabilities", body: "" }, SECRET);
    expect((await fetch(`${gateway.url}/v1/capabilities`, { headers })).status).toBe(200);
    const replay = await fetch(`${gateway.url}/v1/capabilities`, { headers });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: { code: "REPLAYED_REQUEST" } });
  });

  it("refuses every /v1 request when its secret is not configured", async () => {
    const unconfigured = await startGateway({
      ...settings({ serviceSecret: undefined, dataDir: join(dataDir, "unconfigured") }),
      sandboxProvider: localProvider,
      logger: silentLogger,
    });
    try {
      const response = await signedFetch("GET", "/v1/capabilities", undefined, { base: unconfigured });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: "SERVICE_NOT_CONFIGURED" } });
    } finally {
      await unconfigured.close();
    }
  });

  it("refuses oversized bodies and invalid create requests with registry codes", async () => {
    const big = await signedFetch("POST", "/v1/sandboxes", { padding: "x".repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
    const invalid = await signedFetch("POST", "/v1/sandboxes", { sandboxId: "missing-fields" });
    expect(invalid.status).toBe(422);
    const body: unknown = await invalid.json();
    expect(body).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    expect(JSON.stringify(body)).not.toContain("    at ");
  });
});

describe("sandbox lifecycle over HTTP (local provider)", () => {
  it("creates, reports, snapshots, restores and terminates a sandbox", async () => {
    const created = await signedFetch(
      "POST",
      "/v1/sandboxes",
      createRequest("sbx-life", "env > /workspace/env.tmp && mv /workspace/env.tmp /workspace/env; echo kept > /workspace/note; sleep 600"),
    );
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({
      sandboxId: "sbx-life",
      provider: "local",
      providerId: "sbx-life",
      status: "running",
      snapshotStopsSandbox: false,
    });

    const env = await waitForFile(workspaceFile("sbx-life", "env"));
    expect(env).toContain("LOOKOUT_SANDBOX_ID=sbx-life");
    expect(env).toContain("LOOKOUT_REPO_URL=https://example.com/acme/app.git");
    expect(env).toContain("LOOKOUT_OPENCODE_BIN=/opt/lookout/opencode");
    expect(env).not.toContain("sk-ant-real-key");
    expect(env).not.toContain(createRequest("sbx-life", "").sandboxToken);
    const providersLine = env.split("\n").find((line) => line.startsWith("LOOKOUT_MODEL_PROVIDERS="));
    const providers = ModelProviderConfigList.parse(JSON.parse(providersLine?.slice("LOOKOUT_MODEL_PROVIDERS=".length) ?? "null"));
    expect(providers).toEqual([
      {
        id: "anthropic",
        kind: "anthropic",
        // The sandbox has its own network: its relay, at the uplink's URL, leads to the model proxy.
        baseUrl: `${UPLINK.url}/model-proxy/anthropic`,
        // A placeholder the bridge's model relay swaps for the token: OpenCode never holds it.
        apiKey: SANDBOX_TOKEN_API_KEY,
        models: ["claude-sonnet-4-5", "claude-opus-4-1"],
      },
    ]);

    const status = await signedFetch("GET", "/v1/sandboxes/sbx-life");
    expect(await status.json()).toMatchObject({ sandboxId: "sbx-life", status: "running" });

    const snapshot = await signedFetch("POST", "/v1/sandboxes/sbx-life/snapshot", {});
    expect(snapshot.status).toBe(200);
    const { snapshotId } = (await snapshot.json()) as { snapshotId: string };
    expect(snapshotId).toMatch(/^snap_/);

    const deleted = await signedFetch("DELETE", "/v1/sandboxes/sbx-life");
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ status: "stopped" });
    const gone = await signedFetch("GET", "/v1/sandboxes/sbx-life");
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: "SANDBOX_NOT_FOUND" } });

    const restored = await signedFetch(
      "POST",
      "/v1/sandboxes",
      createRequest("sbx-restored", "cat /workspace/note > /workspace/seen.tmp && mv /workspace/seen.tmp /workspace/seen", { snapshotId }),
    );
    expect(restored.status).toBe(201);
    expect(await restored.json()).toMatchObject({ sandboxId: "sbx-restored", restoredFrom: snapshotId });
    expect((await waitForFile(workspaceFile("sbx-restored", "seen"))).trim()).toBe("kept");
    expect(await (await signedFetch("GET", "/v1/sandboxes/sbx-restored")).json()).toMatchObject({ restoredFrom: snapshotId });
    expect((await signedFetch("DELETE", "/v1/sandboxes/sbx-restored")).status).toBe(200);
  });

  it("gives a sandbox on a local repository the gateway's git endpoint to clone, never the host path", async () => {
    const created = await signedFetch(
      "POST",
      "/v1/sandboxes",
      createRequest(
        "sbx-local",
        "ls -A /workspace > /tmp/ls; env > /tmp/env; mv /tmp/ls /workspace/ls; mv /tmp/env /workspace/env; sleep 600",
        {
          repository: { kind: "local", path: "/srv/host-only/repository" },
        },
      ),
    );
    expect(created.status).toBe(201);
    const env = await waitForFile(workspaceFile("sbx-local", "env"));
    expect(env).toContain(`LOOKOUT_REPO_URL=${UPLINK.url}/git/session-1.git\n`);
    expect(env).not.toContain("/srv/host-only");
    expect(readFileSync(workspaceFile("sbx-local", "ls"), "utf8").trim()).toBe("");
    expect((await signedFetch("DELETE", "/v1/sandboxes/sbx-local")).status).toBe(200);
  });

  it("answers a retried create with the same sandbox and refuses a different token for the id", async () => {
    const request = createRequest("sbx-retry", "sleep 600");
    expect((await signedFetch("POST", "/v1/sandboxes", request)).status).toBe(201);
    const retry = await signedFetch("POST", "/v1/sandboxes", request);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ sandboxId: "sbx-retry", status: "running" });
    const conflict = await signedFetch("POST", "/v1/sandboxes", { ...request, sandboxToken: "another-token".padEnd(40, "y") });
    expect(conflict.status).toBe(409);
    expect((await signedFetch("DELETE", "/v1/sandboxes/sbx-retry")).status).toBe(200);
  });
});

describe("model proxy", () => {
  it("forwards with the real key, streams unbuffered, and stops working when the sandbox goes", async () => {
    const request = createRequest("sbx-proxy", "sleep 600");
    expect((await signedFetch("POST", "/v1/sandboxes", request)).status).toBe(201);

    const response = await fetch(`${gateway.url}/model-proxy/anthropic/messages?beta=true`, {
      method: "POST",
      headers: { "x-api-key": request.sandboxToken, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-opus-4-1", stream: true }),
    });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    if (!reader) throw new Error("no body");
    // The first event arrives while the upstream is still holding the rest back: nothing buffers.
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("data: first\n\n");
    upstream.release();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe("data: second\n\n");

    const seen = upstream.seen.at(-1);
    expect(seen?.path).toBe("/v1/messages?beta=true");
    expect(seen?.headers["x-api-key"]).toBe("sk-ant-real-key");
    expect(seen?.headers["anthropic-version"]).toBe("2023-06-01");
    expect(seen?.body).toBe(JSON.stringify({ model: "claude-opus-4-1", stream: true }));

    const wrong = await fetch(`${gateway.url}/model-proxy/anthropic/messages`, {
      method: "POST",
      headers: { "x-api-key": "not-a-sandbox-token" },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: "INVALID_TOKEN" } });
    const unknown = await fetch(`${gateway.url}/model-proxy/nope/messages`, {
      method: "POST",
      headers: { "x-api-key": request.sandboxToken },
    });
    expect(unknown.status).toBe(404);

    expect((await signedFetch("DELETE", "/v1/sandboxes/sbx-proxy")).status).toBe(200);
    const afterTerminate = await fetch(`${gateway.url}/model-proxy/anthropic/messages`, {
      method: "POST",
      headers: { "x-api-key": request.sandboxToken },
    });
    expect(afterTerminate.status).toBe(401);
  });

  it("refuses a sandbox that has stopped at once, while its record still exists", async () => {
    const request = createRequest("sbx-exited", "exit 0");
    expect((await signedFetch("POST", "/v1/sandboxes", request)).status).toBe(201);
    await waitForStatus("sbx-exited", "stopped");
    const refused = await fetch(`${gateway.url}/model-proxy/anthropic/messages`, {
      method: "POST",
      headers: { "x-api-key": request.sandboxToken },
    });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "INVALID_TOKEN", message: expect.stringContaining("stopped") } });
    expect((await signedFetch("GET", "/v1/sandboxes/sbx-exited")).status).toBe(200);
    expect((await signedFetch("DELETE", "/v1/sandboxes/sbx-exited")).status).toBe(200);
  });
});
