import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signRequest, type CreateSandboxRequest } from "@lookout/protocol";
import { LocalProvider, silentLogger } from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewaySettings } from "../src/config";
import { startGateway, type RunningGateway } from "../src/server";

/**
 * The gateway's cap on running sandboxes (issue 13): every create passes through it, whoever asks,
 * so no path starts more than `LOOKOUT_MAX_RUNNING_SANDBOXES`. Real bubblewrap sandboxes run a
 * probe instead of the bridge.
 */
const SECRET = "control-plane-secret-for-tests-0123456789";
const PROBE_COMMAND = ["/bin/sh", "-c", 'eval "$PROBE_SCRIPT"'];
/** A sandbox that keeps running until it is terminated. */
const STAY = "touch /workspace/up; exec tail -f /dev/null";
/** A sandbox that ends by itself once the test drops `/workspace/leave` into it. */
const LEAVE = "touch /workspace/up; until [ -e /workspace/leave ]; do sleep 0.1; done; exit 0";

let dataDir: string;
let gateway: RunningGateway;
let provider: LocalProvider;

function settings(): GatewaySettings {
  return {
    repoRoot: dataDir,
    host: "127.0.0.1",
    port: 0,
    dataDir,
    serviceSecret: SECRET,
    publicUrl: undefined,
    provider: { kind: "local", bridgeBundle: "/nonexistent", opencodeBin: undefined, bwrapPath: "/usr/bin/bwrap", unsafeNoSandbox: false },
    models: { scriptedUrl: undefined, scriptedToken: undefined, anthropic: undefined, openai: undefined, openaiCompatible: undefined },
    logLevel: "error",
    maxRunningSandboxes: 2,
  };
}

async function signedFetch(method: string, path: string, body?: unknown): Promise<Response> {
  const payload = body === undefined ? "" : JSON.stringify(body);
  const headers = await signRequest({ service: "control-plane", method, pathAndQuery: path, body: payload }, SECRET);
  return fetch(`${gateway.url}${path}`, {
    method,
    headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
    ...(payload ? { body: payload } : {}),
  });
}

function createRequest(sandboxId: string, script: string): CreateSandboxRequest {
  return {
    sessionId: `session-${sandboxId}`,
    sandboxId,
    sandboxToken: `token-${sandboxId}-`.padEnd(40, "x"),
    controlPlaneUrl: "http://127.0.0.1:8787",
    repository: { kind: "remote", cloneUrl: "https://example.com/acme/app.git" },
    baseBranch: "main",
    branch: `lookout/session-${sandboxId}`,
    model: "anthropic/claude-opus-4-1",
    env: { PROBE_SCRIPT: script },
    timeoutMs: 60_000,
  };
}

async function create(sandboxId: string, script: string): Promise<Response> {
  return signedFetch("POST", "/v1/sandboxes", createRequest(sandboxId, script));
}

/** Polls an observable condition with a deadline (never a blind sleep). */
async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lookout-gateway-cap-"));
  provider = await LocalProvider.start({ dataDir, bridgeBundle: "/nonexistent", opencodeBin: undefined, command: PROBE_COMMAND });
  gateway = await startGateway({ ...settings(), sandboxProvider: provider, logger: silentLogger });
});

afterAll(async () => {
  await gateway.close();
  await provider.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the cap on running sandboxes", () => {
  it("refuses a create past the cap with a clear error, lets exactly one of two racing creates take the last place, and frees places as sandboxes go", async () => {
    expect((await create("cap-a", STAY)).status).toBe(201);

    // Two creates for the one place left: exactly one starts a sandbox.
    const racing = await Promise.all([create("cap-b", STAY), create("cap-c", STAY)]);
    expect(racing.map((response) => response.status).sort()).toEqual([201, 503]);
    const refused = (await racing.find((response) => response.status === 503)?.json()) as { error: { code: string; message: string } };
    expect(refused.error.code).toBe("SANDBOX_UNAVAILABLE");
    expect(refused.error.message).toMatch(/maximum of 2 sandboxes \(LOOKOUT_MAX_RUNNING_SANDBOXES\)/);
    const loser = racing[0]?.status === 503 ? "cap-b" : "cap-c";
    // The refused create started nothing.
    expect(existsSync(provider.sandboxDir(loser))).toBe(false);

    expect(await (await signedFetch("GET", "/v1/capacity")).json()).toEqual({ running: 2, max: 2 });

    // Terminating a sandbox frees its place.
    expect((await signedFetch("DELETE", "/v1/sandboxes/cap-a")).status).toBe(200);
    expect((await create("cap-d", LEAVE)).status).toBe(201);
    expect((await create("cap-e", STAY)).status).toBe(503);

    // A sandbox that ended by itself (its record stays until terminated) frees its place too.
    writeFileSync(join(provider.sandboxDir("cap-d"), "workspace", "leave"), "");
    await waitUntil(async () => (await provider.status("cap-d")) === "stopped", "cap-d to end by itself");
    expect(await (await signedFetch("GET", "/v1/capacity")).json()).toEqual({ running: 1, max: 2 });
    expect((await create("cap-e", STAY)).status).toBe(201);
    expect((await create("cap-f", STAY)).status).toBe(503);

    for (const id of ["cap-b", "cap-c", "cap-d", "cap-e"]) await signedFetch("DELETE", `/v1/sandboxes/${id}`);
    expect(await (await signedFetch("GET", "/v1/capacity")).json()).toEqual({ running: 0, max: 2 });
  });
});
