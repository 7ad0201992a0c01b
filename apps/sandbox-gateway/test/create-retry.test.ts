import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signRequest, type CreateSandboxRequest } from "@lookout/protocol";
import {
  providerError,
  type LogFields,
  type Logger,
  type SandboxHandle,
  type SandboxProvider,
  type SandboxProviderCapabilities,
  type SandboxState,
} from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/server";

const SECRET = "control-plane-secret-for-tests-0123456789";

/**
 * A remote provider whose creates wait until the test lets them finish, the way a vendor's API can
 * take longer than the control plane is willing to wait. Like a vendor's, every create makes a new
 * sandbox: nothing here deduplicates by id.
 */
class SlowRemoteProvider implements SandboxProvider {
  readonly name = "modal" as const;
  readonly capabilities: SandboxProviderCapabilities = {
    snapshots: false,
    restore: false,
    timeouts: true,
    maxTimeoutMs: 3_600_000,
    snapshotStopsSandbox: false,
    network: "vendor",
  };
  /** The provider ids of the sandboxes that run. */
  readonly running = new Set<string>();
  creates = 0;
  private releaseCreates: () => void = () => {};
  private readonly released = new Promise<void>((resolve) => (this.releaseCreates = resolve));

  async create(config: { sandboxId: string }): Promise<SandboxHandle> {
    this.creates += 1;
    const providerId = `${config.sandboxId}-${this.creates}`;
    await this.released;
    this.running.add(providerId);
    return { providerId, status: "running" };
  }
  /** Lets every create, waiting or future, finish. */
  release(): void {
    this.releaseCreates();
  }
  status(providerId: string): Promise<SandboxState> {
    if (this.running.has(providerId)) return Promise.resolve("running");
    return Promise.reject(providerError("modal", `no sandbox ${providerId}`, { kind: "permanent", reason: "not_found" }));
  }
  terminate(providerId: string): Promise<void> {
    this.running.delete(providerId);
    return Promise.resolve();
  }
  snapshot(): Promise<{ snapshotId: string }> {
    return Promise.reject(new Error("not used"));
  }
  restore(): Promise<SandboxHandle> {
    return Promise.reject(new Error("not used"));
  }
  deleteSnapshot(): Promise<void> {
    return Promise.reject(new Error("not used"));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Keeps what the gateway logs, so the test can wait for what it reports. */
class RecordingLogger implements Logger {
  readonly lines: { msg: string; fields: LogFields | undefined }[] = [];
  debug(msg: string, fields?: LogFields): void {
    this.lines.push({ msg, fields });
  }
  info(msg: string, fields?: LogFields): void {
    this.lines.push({ msg, fields });
  }
  warn(msg: string, fields?: LogFields): void {
    this.lines.push({ msg, fields });
  }
  error(msg: string, fields?: LogFields): void {
    this.lines.push({ msg, fields });
  }
  child(): Logger {
    return this;
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
let provider: SlowRemoteProvider;
let logger: RecordingLogger;
let gateway: RunningGateway;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lookout-create-retry-"));
  provider = new SlowRemoteProvider();
  logger = new RecordingLogger();
  gateway = await startGateway({
    repoRoot: dataDir,
    host: "127.0.0.1",
    port: 0,
    dataDir,
    serviceSecret: SECRET,
    publicUrl: undefined,
    provider: { kind: "modal", tokenId: "unused", tokenSecret: "unused", appName: "unused", environment: undefined },
    models: { scriptedUrl: undefined, scriptedToken: undefined, anthropic: undefined, openai: undefined, openaiCompatible: undefined },
    logLevel: "debug",
    sandboxProvider: provider,
    logger,
  });
});

afterAll(async () => {
  provider.release();
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

describe("a create retried while the first one still runs", () => {
  it("answers the retry with the sandbox being made, makes no second one, and leaves nothing running after terminate", async () => {
    const request: CreateSandboxRequest = {
      sessionId: "session-slow",
      sandboxId: "sbx-slow",
      sandboxToken: "token-sbx-slow-".padEnd(40, "x"),
      controlPlaneUrl: "http://127.0.0.1:8787",
      repository: { kind: "remote", cloneUrl: "https://example.com/acme/app.git" },
      baseBranch: "main",
      branch: "lookout/slow",
      model: "anthropic/claude-sonnet-4-5",
      env: {},
      timeoutMs: 60_000,
    };
    const first = signed("POST", "/v1/sandboxes", request);
    // Awaited below; if an assertion fails first, the gateway's shutdown must not surface as an unhandled rejection.
    void first.catch(() => undefined);
    await waitFor(() => provider.creates === 1, "the provider to start the first create");

    const retry = signed("POST", "/v1/sandboxes", request);
    void retry.catch(() => undefined);
    await waitFor(
      () => logger.lines.some((line) => line.msg === "sandbox create retried while in progress" && line.fields?.sandboxId === "sbx-slow"),
      "the retry to join the create in progress",
    );
    const conflict = await signed("POST", "/v1/sandboxes", { ...request, sandboxToken: "another-token-".padEnd(40, "y") });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: "CONFLICT" } });

    provider.release();
    const created = await first;
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ sandboxId: "sbx-slow", providerId: "sbx-slow-1", status: "running" });
    const retried = await retry;
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ sandboxId: "sbx-slow", providerId: "sbx-slow-1", status: "running" });
    expect(provider.creates).toBe(1);

    expect((await signed("DELETE", "/v1/sandboxes/sbx-slow")).status).toBe(200);
    expect([...provider.running]).toEqual([]);
  });
});
