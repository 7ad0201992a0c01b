import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signRequest, type CreateSandboxRequest } from "@lookout/protocol";
import {
  providerError,
  silentLogger,
  type SandboxCreateConfig,
  type SandboxHandle,
  type SandboxProvider,
  type SandboxProviderCapabilities,
  type SandboxState,
} from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/server";

const SECRET = "control-plane-secret-for-tests-0123456789";

/**
 * A remote provider holding snapshots in memory: restores wait until the test lets them finish (a
 * vendor's restore takes seconds), deletions are recorded, and a deletion can be made to fail.
 */
class SnapshotProvider implements SandboxProvider {
  readonly name = "modal" as const;
  readonly capabilities: SandboxProviderCapabilities = {
    snapshots: true,
    restore: true,
    timeouts: true,
    maxTimeoutMs: 3_600_000,
    snapshotStopsSandbox: false,
    network: "vendor",
  };
  readonly snapshots = new Set(["im-old", "im-running"]);
  readonly deleted: string[] = [];
  readonly running = new Set<string>();
  /** Restores waiting for `releaseRestores`. */
  restoring = 0;
  failNextDelete = false;
  private release: () => void = () => {};
  private gate = new Promise<void>((resolve) => (this.release = resolve));

  async create(config: SandboxCreateConfig): Promise<SandboxHandle> {
    if (config.source.kind === "snapshot") {
      if (!this.snapshots.has(config.source.snapshotId))
        throw providerError("modal", "no such image", { kind: "permanent", reason: "not_found" });
      this.restoring += 1;
      await this.gate;
      this.restoring -= 1;
    }
    this.running.add(config.sandboxId);
    return { providerId: config.sandboxId, status: "running" };
  }
  releaseRestores(): void {
    this.release();
    this.gate = new Promise<void>((resolve) => (this.release = resolve));
  }
  restore(snapshotId: string, config: Omit<SandboxCreateConfig, "source">): Promise<SandboxHandle> {
    return this.create({ ...config, source: { kind: "snapshot", snapshotId } });
  }
  status(providerId: string): Promise<SandboxState> {
    return Promise.resolve(this.running.has(providerId) ? "running" : "stopped");
  }
  snapshot(): Promise<{ snapshotId: string }> {
    return Promise.reject(new Error("not used"));
  }
  deleteSnapshot(snapshotId: string): Promise<void> {
    if (snapshotId.startsWith("im-") === false) {
      return Promise.reject(providerError("modal", "not an image id", { kind: "permanent", reason: "invalid_request" }));
    }
    if (this.failNextDelete) {
      this.failNextDelete = false;
      return Promise.reject(providerError("modal", "Modal is unavailable", { kind: "transient", reason: "unavailable" }));
    }
    this.deleted.push(snapshotId);
    this.snapshots.delete(snapshotId);
    return Promise.resolve();
  }
  terminate(providerId: string): Promise<void> {
    this.running.delete(providerId);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let dataDir: string;
let provider: SnapshotProvider;
let gateway: RunningGateway;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lookout-snapshot-delete-"));
  provider = new SnapshotProvider();
  gateway = await startGateway({
    repoRoot: dataDir,
    host: "127.0.0.1",
    port: 0,
    dataDir,
    serviceSecret: SECRET,
    publicUrl: undefined,
    provider: { kind: "modal", tokenId: "unused", tokenSecret: "unused", appName: "unused", environment: undefined },
    models: { scriptedUrl: undefined, scriptedToken: undefined, anthropic: undefined, openai: undefined, openaiCompatible: undefined },
    logLevel: "error",
    sandboxProvider: provider,
    logger: silentLogger,
  });
});

afterAll(async () => {
  provider.releaseRestores();
  await gateway.close();
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

function createRequest(sandboxId: string, snapshotId: string): CreateSandboxRequest {
  return {
    sessionId: `session-${sandboxId}`,
    sandboxId,
    sandboxToken: `token-${sandboxId}-`.padEnd(40, "x"),
    controlPlaneUrl: "http://127.0.0.1:8787",
    repository: { kind: "remote", cloneUrl: "https://example.com/acme/app.git" },
    baseBranch: "main",
    branch: `lookout/${sandboxId}`,
    model: "anthropic/claude-sonnet-4-5",
    env: {},
    timeoutMs: 60_000,
    snapshotId,
  };
}

describe("DELETE /v1/images/snapshots/:snapshotId", () => {
  it("deletes a snapshot through the provider, and a snapshot already gone as well", async () => {
    const deleted = await signed("DELETE", "/v1/images/snapshots/im-old");
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ snapshotId: "im-old" });
    expect(provider.deleted).toEqual(["im-old"]);
    expect(provider.snapshots.has("im-old")).toBe(false);

    // The control plane retries a deletion whose answer it lost (or after this gateway restarted).
    expect((await signed("DELETE", "/v1/images/snapshots/im-old")).status).toBe(200);
  });

  it("refuses a snapshot a sandbox is starting from or still runs from, and deletes it once that sandbox is gone", async () => {
    const starting = signed("POST", "/v1/sandboxes", createRequest("sbx-restoring", "im-running"));
    void starting.catch(() => undefined);
    await waitFor(() => provider.restoring === 1, "the restore to begin");

    const whileStarting = await signed("DELETE", "/v1/images/snapshots/im-running");
    expect(whileStarting.status).toBe(409);
    expect(await whileStarting.json()).toMatchObject({ error: { code: "CONFLICT" } });

    provider.releaseRestores();
    expect((await starting).status).toBe(201);
    const whileRunning = await signed("DELETE", "/v1/images/snapshots/im-running");
    expect(whileRunning.status).toBe(409);
    expect(provider.deleted).not.toContain("im-running");

    expect((await signed("DELETE", "/v1/sandboxes/sbx-restoring")).status).toBe(200);
    expect((await signed("DELETE", "/v1/images/snapshots/im-running")).status).toBe(200);
    expect(provider.deleted).toContain("im-running");
  });

  it("passes a provider outage on as transient, refuses ids the provider does not take, and answers unsigned callers nothing", async () => {
    provider.failNextDelete = true;
    const outage = await signed("DELETE", "/v1/images/snapshots/im-flaky");
    expect(outage.status).toBe(503);
    expect(await outage.json()).toMatchObject({ error: { code: "PROVIDER_TRANSIENT" } });

    const refused = await signed("DELETE", "/v1/images/snapshots/snap_not-an-image");
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });

    // A path-like id matches no route at all.
    const pathLike = await signed("DELETE", "/v1/images/snapshots/..%2Fx");
    expect(pathLike.status).toBe(404);

    const unsigned = await fetch(`${gateway.url}/v1/images/snapshots/im-flaky`, { method: "DELETE" });
    expect(unsigned.status).toBe(401);
    expect(provider.deleted).not.toContain("im-flaky");
  });
});
