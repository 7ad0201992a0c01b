import { execFile, execFileSync } from "node:child_process";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { promisify } from "node:util";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BRIDGE_ENV,
  PoolClaim,
  PoolState,
  signRequest,
  type CreateSandboxRequest,
  type PoolBridgeReport,
  type PoolTarget,
  type SandboxInfo,
} from "@lookout/protocol";
import { silentLogger, type SandboxCreateConfig, type SandboxProvider, type SandboxState } from "@lookout/sandbox";
import { afterEach, describe, expect, it } from "vitest";
import type { GatewaySettings } from "../src/config";
import { DEFAULT_POOL_SETTINGS, type PoolSettings } from "../src/pool/settings";
import { startGateway, type RunningGateway } from "../src/server";
import { startGitHubRemote, type GitHubRemote } from "./support/github-remote";

/**
 * The warm pool in the gateway (ADR 0012), through its HTTP API: `PUT /v1/pool/targets`,
 * `GET /v1/pool`, `POST /v1/sandboxes` and the pool channel. The provider is an in-process one
 * whose pool sandboxes run a stand-in bridge that speaks the real pool channel over HTTP with the
 * pool token the gateway gave it; the real bridge and bubblewrap are in the e2e test.
 */
const SECRET = "control-plane-secret-for-tests-0123456789";
const GIT_SECRET = "git-credential-secret-for-tests-0123456789";
const MODEL = "anthropic/claude-test";

/** What a pool sandbox's stand-in bridge does. */
type Behaviour = { kind: "warm"; gate?: Promise<void> } | { kind: "fail"; output: string };

class PoolTestProvider implements SandboxProvider {
  readonly name = "local" as const;
  readonly capabilities = {
    snapshots: false,
    restore: true,
    timeouts: true,
    maxTimeoutMs: 24 * 3600_000,
    snapshotStopsSandbox: false,
    network: "host" as const,
  };
  readonly created: string[] = [];
  /** Where each sandbox started from (the base image, or a snapshot such as the repository's image). */
  readonly sources = new Map<string, SandboxCreateConfig["source"]>();
  readonly terminated: string[] = [];
  readonly claims = new Map<string, PoolClaim>();
  readonly credentials = new Map<string, string>();
  alive = 0;
  maxAlive = 0;
  behaviour: (sandboxId: string) => Behaviour = () => ({ kind: "warm" });
  private readonly states = new Map<string, SandboxState>();
  private readonly stops = new Map<string, AbortController>();

  /** The base commit a stand-in bridge reports when warm (the clone's HEAD). */
  constructor(public baseHead: () => string) {}

  create(config: SandboxCreateConfig): Promise<{ providerId: string; status: SandboxState }> {
    const id = config.sandboxId;
    this.created.push(id);
    this.sources.set(id, config.source);
    this.states.set(id, "running");
    this.alive += 1;
    this.maxAlive = Math.max(this.maxAlive, this.alive);
    const poolUrl = config.env[BRIDGE_ENV.poolUrl];
    const token = config.env[BRIDGE_ENV.sandboxToken];
    if (poolUrl && token) {
      const stop = new AbortController();
      this.stops.set(id, stop);
      void this.bridge(id, poolUrl, token, this.behaviour(id), stop.signal).catch(() => undefined);
    }
    return Promise.resolve({ providerId: id, status: "running" });
  }

  status(providerId: string): Promise<SandboxState> {
    return Promise.resolve(this.states.get(providerId) ?? "stopped");
  }

  terminate(providerId: string): Promise<void> {
    if (this.states.get(providerId) === "running") this.alive -= 1;
    this.states.set(providerId, "stopped");
    this.terminated.push(providerId);
    this.stops.get(providerId)?.abort();
    return Promise.resolve();
  }

  snapshot(): Promise<{ snapshotId: string }> {
    return Promise.reject(new Error("no snapshots"));
  }

  deleteSnapshot(): Promise<void> {
    return Promise.reject(new Error("no snapshots"));
  }

  restore(snapshotId: string, config: Omit<SandboxCreateConfig, "source">): Promise<{ providerId: string; status: SandboxState }> {
    return this.create({ ...config, source: { kind: "snapshot", snapshotId } });
  }

  close(): Promise<void> {
    for (const stop of this.stops.values()) stop.abort();
    return Promise.resolve();
  }

  /** The stand-in bridge: reports its phases, fetches the pool's git credential, waits for its claim. */
  private async bridge(id: string, url: string, token: string, behaviour: Behaviour, signal: AbortSignal): Promise<void> {
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const report = (body: PoolBridgeReport) => fetch(`${url}/report`, { method: "POST", headers, body: JSON.stringify(body), signal });
    await report({ phase: "cloning" });
    const credential = await fetch(`${url}/git-credentials`, { method: "POST", headers, body: "{}", signal });
    if (credential.ok) this.credentials.set(id, ((await credential.json()) as { password: string }).password);
    await report({ phase: "setup" });
    if (behaviour.kind === "fail") {
      await report({ phase: "failed", message: "The repository's setup script failed: exit code 1.", output: behaviour.output });
      return;
    }
    await behaviour.gate;
    await report({ phase: "warm", baseHead: this.baseHead() });
    while (!signal.aborted) {
      const response = await fetch(`${url}/claim?waitMs=500`, { headers, signal });
      if (response.status === 200) {
        this.claims.set(id, PoolClaim.parse(await response.json()));
        return;
      }
      if (response.status !== 204) return;
    }
  }
}

interface Harness {
  gateway: RunningGateway;
  provider: PoolTestProvider;
  repo: string;
  head(): string;
  signed(method: string, path: string, body?: unknown): Promise<Response>;
  state(): Promise<PoolState>;
  setTargets(targets: (Omit<PoolTarget, "repository" | "baseBranch"> & Partial<Pick<PoolTarget, "repository">>)[]): Promise<void>;
  waitFor(what: string, condition: (state: PoolState) => boolean): Promise<PoolState>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Git that never prompts: a refused credential fails the command instead of waiting for a terminal. */
const GIT_ENV = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "/bin/false" };

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: GIT_ENV, timeout: 20_000 }).trim();
}

async function harness(options: { maxRunningSandboxes?: number; pool?: Partial<PoolSettings> } = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), "lookout-pool-"));
  // Outside the gateway's own directories, which are never served as repositories.
  const repo = join(dataDir, "repos", "pooled");
  execFileSync("mkdir", ["-p", repo, join(dataDir, "install")]);
  git(repo, "init", "-q", "-b", "main");
  writeFileSync(join(repo, "README.md"), "# pooled\n");
  git(repo, "add", ".");
  git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first");
  const head = () => git(repo, "rev-parse", "refs/heads/main");
  const provider = new PoolTestProvider(head);
  const settings: GatewaySettings = {
    repoRoot: join(dataDir, "install"),
    host: "127.0.0.1",
    port: 0,
    dataDir: join(dataDir, "gateway"),
    serviceSecret: SECRET,
    gitCredentialSecret: GIT_SECRET,
    localRepoRoots: realpathSync(join(dataDir, "repos")),
    publicUrl: undefined,
    provider: { kind: "local", bridgeBundle: "/nonexistent", opencodeBin: undefined, bwrapPath: "/usr/bin/bwrap", unsafeNoSandbox: false },
    models: {
      scriptedUrl: undefined,
      scriptedToken: undefined,
      anthropic: { apiKey: "test-key", baseUrl: "http://127.0.0.1:9/v1", models: ["claude-test"] },
      openai: undefined,
      openaiCompatible: undefined,
    },
    logLevel: "error",
    maxRunningSandboxes: options.maxRunningSandboxes ?? 8,
    pool: { ...DEFAULT_POOL_SETTINGS, tickMs: 50, claimPickupMs: 2_000, refillDelayMs: 0, ...options.pool },
  };
  const gateway = await startGateway({ ...settings, sandboxProvider: provider, logger: silentLogger });
  cleanups.push(async () => {
    await gateway.close();
    await provider.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const signed = async (method: string, path: string, body?: unknown) => {
    const payload = body === undefined ? "" : JSON.stringify(body);
    const headers = await signRequest({ service: "control-plane", method, pathAndQuery: path, body: payload }, SECRET);
    return fetch(`${gateway.url}${path}`, {
      method,
      headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
      ...(payload ? { body: payload } : {}),
    });
  };
  const state = async () => PoolState.parse(await (await signed("GET", "/v1/pool")).json());
  return {
    gateway,
    provider,
    repo,
    head,
    signed,
    state,
    async setTargets(targets) {
      const response = await signed("PUT", "/v1/pool/targets", {
        controlPlaneUrl: "http://127.0.0.1:8787",
        targets: targets.map((target) => ({ repository: { kind: "local", path: repo }, ...target, baseBranch: "main" })),
      });
      expect(response.status).toBe(200);
    },
    async waitFor(what, condition) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const current = await state();
        if (condition(current)) return current;
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(current)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** A harness whose pool target is a GitHub-like remote; its stand-in bridges report the remote's main as their base. */
async function remoteHarness(pool: Partial<PoolSettings> = {}): Promise<{
  h: Harness;
  github: GitHubRemote;
  remote: PoolTarget["repository"];
  gitCredential: NonNullable<PoolTarget["gitCredential"]>;
}> {
  const h = await harness({ pool: { tickMs: 100, ...pool } });
  const github = await startGitHubRemote();
  cleanups.push(() => github.close());
  h.provider.baseHead = () => github.main();
  return {
    h,
    github,
    remote: { kind: "remote", cloneUrl: github.url },
    gitCredential: { username: "x-access-token", password: github.token, expiresAt: Date.now() + 3600_000 },
  };
}

function createRequest(h: Harness, sandboxId: string, overrides: Partial<CreateSandboxRequest> = {}): CreateSandboxRequest {
  return {
    sessionId: `ses-${sandboxId}`,
    sandboxId,
    sandboxToken: `lks_session-token-${sandboxId}`.padEnd(40, "x"),
    controlPlaneUrl: "http://127.0.0.1:8787",
    repository: { kind: "local", path: h.repo },
    baseBranch: "main",
    branch: `lookout/ses-${sandboxId}`,
    model: MODEL,
    env: {},
    timeoutMs: 2 * 3600_000,
    ...overrides,
  };
}

const repoPool = (state: PoolState) => state.repositories.find((repository) => repository.repositoryKey === "repo-1");

describe("the warm pool", () => {
  it("fills to size; a create for the repository claims a warm sandbox (warm: true, re-keyed, the session's values handed over) and the pool refills", async () => {
    const h = await harness();
    await h.setTargets([{ repositoryKey: "repo-1", size: 2 }]);
    const filled = await h.waitFor("two warm sandboxes", (state) => repoPool(state)?.warm === 2);
    expect(repoPool(filled)?.entries.map((entry) => entry.baseHead)).toEqual([h.head(), h.head()]);
    expect(h.provider.created).toHaveLength(2);

    const response = await h.signed("POST", "/v1/sandboxes", createRequest(h, "sbx-a", { env: { API_SECRET: "s3cret" } }));
    expect(response.status).toBe(201);
    const info = (await response.json()) as SandboxInfo;
    expect(info).toMatchObject({ sandboxId: "sbx-a", status: "running", warm: true });
    expect(filled.repositories[0]?.entries.map((entry) => entry.sandboxId)).toContain(info.providerId);
    // Re-keyed: the session's sandbox id names the pool's provider sandbox from now on.
    expect(await (await h.signed("GET", "/v1/sandboxes/sbx-a")).json()).toMatchObject({ providerId: info.providerId });
    expect(h.provider.claims.get(info.providerId)).toEqual({
      sessionId: "ses-sbx-a",
      sandboxId: "sbx-a",
      sandboxToken: createRequest(h, "sbx-a").sandboxToken,
      controlPlaneUrl: "http://127.0.0.1:8787",
      repoUrl: `${h.gateway.url}/git/ses-sbx-a.git`,
      baseBranch: "main",
      branch: "lookout/ses-sbx-a",
      model: MODEL,
      env: { API_SECRET: "s3cret" },
      // The base has not moved since the clone and the session branch is new: no sync needed.
      upToDate: true,
    });

    const refilled = await h.waitFor("the refill", (state) => repoPool(state)?.warm === 2 && repoPool(state)?.claimed === 1);
    expect(refilled.capacity).toEqual({ running: 3, max: 8 });
    expect(h.provider.created).toHaveLength(3);

    // No warm sandbox offers this model, or a snapshot is restored: the create starts a sandbox as before.
    const cold = await h.signed("POST", "/v1/sandboxes", createRequest(h, "sbx-b", { model: "anthropic/other-model" }));
    expect(cold.status).toBe(201);
    expect(await cold.json()).not.toHaveProperty("warm");
    expect(h.provider.created).toContain("sbx-b");

    // The repository's image is what a warm sandbox already is: a create from it claims one too;
    // a session's own snapshot (its work) never does.
    await h.waitFor("the second refill", (state) => repoPool(state)?.warm === 2);
    const fromImage = await h.signed("POST", "/v1/sandboxes", createRequest(h, "sbx-c", { snapshotId: "image-1", fromImage: true }));
    expect(await fromImage.json()).toMatchObject({ sandboxId: "sbx-c", warm: true });
    const ownSnapshot = await h.signed("POST", "/v1/sandboxes", createRequest(h, "sbx-d", { snapshotId: "session-snapshot" }));
    expect(await ownSnapshot.json()).toMatchObject({ sandboxId: "sbx-d", providerId: "sbx-d", restoredFrom: "session-snapshot" });
  });

  it("starts a claimed sandbox's replacement only after the refill delay, so it does not compete with the claimed session's first prompt", async () => {
    const h = await harness({ pool: { refillDelayMs: 800 } });
    await h.setTargets([{ repositoryKey: "repo-1", size: 1 }]);
    await h.waitFor("a warm sandbox", (state) => repoPool(state)?.warm === 1);
    const claimedAt = Date.now();
    const claimed = await h.signed("POST", "/v1/sandboxes", createRequest(h, "sbx-a"));
    expect(await claimed.json()).toMatchObject({ warm: true });
    await h.waitFor("the refill", () => h.provider.created.length === 2);
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(800);
  });

  it("starts pool sandboxes from the repository's image when the targets name one, else from the base image", async () => {
    const h = await harness();
    await h.setTargets([{ repositoryKey: "repo-1", size: 1, imageSnapshotId: "snap_repository_image" }]);
    const filled = await h.waitFor("a warm sandbox", (state) => repoPool(state)?.warm === 1);
    const fromImage = repoPool(filled)!.entries[0]!.sandboxId;
    expect(h.provider.sources.get(fromImage)).toEqual({ kind: "snapshot", snapshotId: "snap_repository_image" });

    // Claimed; with no image named any more, the refill starts from the base image.
    await h.setTargets([{ repositoryKey: "repo-1", size: 1 }]);
    expect((await h.signed("POST", "/v1/sandboxes", createRequest(h, "sbx-img"))).status).toBe(201);
    const refilled = await h.waitFor(
      "the refill",
      (state) => repoPool(state)?.entries.some((entry) => entry.sandboxId !== fromImage) ?? false,
    );
    const plain = repoPool(refilled)!.entries.find((entry) => entry.sandboxId !== fromImage)!.sandboxId;
    expect(h.provider.sources.get(plain)).toEqual({ kind: "image" });
  });

  it("never runs more than the cap: the pool fills only below it, and racing session creates at the cap evict unclaimed pool sandboxes", async () => {
    const h = await harness({ maxRunningSandboxes: 3 });
    await h.setTargets([{ repositoryKey: "repo-1", size: 2 }]);
    await h.waitFor("two warm sandboxes", (state) => repoPool(state)?.warm === 2);

    // Sessions of another repository: nothing to claim, so each needs a place of its own.
    const other = (id: string) => createRequest(h, id, { repository: { kind: "remote", cloneUrl: "https://example.com/acme/other.git" } });
    const racing = await Promise.all(["sbx-1", "sbx-2", "sbx-3"].map((id) => h.signed("POST", "/v1/sandboxes", other(id))));
    expect(racing.map((response) => response.status)).toEqual([201, 201, 201]);
    const refused = await h.signed("POST", "/v1/sandboxes", other("sbx-4"));
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("SANDBOX_UNAVAILABLE");

    const full = await h.waitFor("the pool held at the cap", (state) => repoPool(state)?.held === "capacity");
    expect(repoPool(full)).toMatchObject({ warm: 0, starting: 0 });
    expect(full.capacity).toEqual({ running: 3, max: 3 });
    expect(h.provider.maxAlive).toBeLessThanOrEqual(3);

    // A session's sandbox goes: the pool takes the free place, and no more.
    expect((await h.signed("DELETE", "/v1/sandboxes/sbx-1")).status).toBe(200);
    await h.waitFor("one warm sandbox again", (state) => repoPool(state)?.warm === 1);
    expect(h.provider.maxAlive).toBeLessThanOrEqual(3);
    expect(h.provider.alive).toBe(3);
  });

  it("a failing setup script marks the repository failed with its output, and the pool backs off instead of retrying", async () => {
    const h = await harness({ pool: { backoffBaseMs: 60_000 } });
    h.provider.behaviour = () => ({ kind: "fail", output: "npm ERR! could not resolve left-pad" });
    await h.setTargets([{ repositoryKey: "repo-1", size: 1 }]);
    const failed = await h.waitFor("the failure", (state) => repoPool(state)?.held === "failed");
    const failure = repoPool(failed)?.failure;
    expect(failure).toMatchObject({
      message: expect.stringContaining("setup script failed") as string,
      output: "npm ERR! could not resolve left-pad",
    });
    expect((failure?.retryAtMs ?? 0) - (failure?.atMs ?? 0)).toBe(60_000);
    await h.waitFor("the failed sandbox terminated", () => h.provider.terminated.length === 1);
    // Several reconciles later, still one attempt: it waits out the backoff.
    for (let round = 0; round < 5; round++) {
      h.gateway.pool.poke();
      await h.gateway.pool.settled();
    }
    expect(h.provider.created).toHaveLength(1);
    expect(repoPool(await h.state())).toMatchObject({ warm: 0, starting: 0, held: "failed" });
  });

  it("stops a warm sandbox unclaimed past the idle limit, and refills only when the repository is used again", async () => {
    const h = await harness({ pool: { idleLimitMs: 300 } });
    await h.setTargets([{ repositoryKey: "repo-1", size: 1, lastUsedAtMs: 1_000 }]);
    await h.waitFor("a warm sandbox", (state) => repoPool(state)?.warm === 1);
    const idle = await h.waitFor("the idle stop", (state) => repoPool(state)?.held === "idle");
    expect(repoPool(idle)).toMatchObject({ warm: 0, starting: 0 });
    expect(h.provider.terminated).toEqual([h.provider.created[0]]);
    for (let round = 0; round < 5; round++) {
      h.gateway.pool.poke();
      await h.gateway.pool.settled();
    }
    expect(h.provider.created).toHaveLength(1);

    await h.setTargets([{ repositoryKey: "repo-1", size: 1, lastUsedAtMs: 2_000 }]);
    await h.waitFor("the refill after new use", (state) => repoPool(state)?.warm === 1);
    expect(h.provider.created).toHaveLength(2);
  });

  it("retires warm sandboxes whose base branch moved and replaces them on the new base, shown as refreshing", async () => {
    const h = await harness();
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    h.provider.behaviour = () => {
      const behaviour: Behaviour = first ? { kind: "warm" } : { kind: "warm", gate };
      first = false;
      return behaviour;
    };
    await h.setTargets([{ repositoryKey: "repo-1", size: 1 }]);
    const warm = await h.waitFor("a warm sandbox", (state) => repoPool(state)?.warm === 1);
    const oldHead = h.head();
    expect(repoPool(warm)?.entries[0]?.baseHead).toBe(oldHead);

    writeFileSync(join(h.repo, "CHANGELOG.md"), "moved\n");
    git(h.repo, "add", ".");
    git(h.repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base moves");
    const refreshing = await h.waitFor("the refresh", (state) => repoPool(state)?.refreshing === 1);
    expect(repoPool(refreshing)).toMatchObject({ warm: 0 });
    expect(h.provider.terminated).toContain(h.provider.created[0]);

    release();
    const refreshed = await h.waitFor("the new warm sandbox", (state) => repoPool(state)?.warm === 1);
    expect(repoPool(refreshed)?.entries[0]?.baseHead).toBe(h.head());
    expect(h.head()).not.toBe(oldHead);
  });

  it("pools a remote repository with the control plane's read-only credential, and holds one that came without", async () => {
    const { h, github, remote, gitCredential } = await remoteHarness();
    await h.setTargets([
      { repositoryKey: "repo-1", size: 1, repository: remote, gitCredential },
      { repositoryKey: "repo-2", size: 1, repository: { kind: "remote", cloneUrl: "https://github.com/acme/other.git" } },
    ]);
    const warm = await h.waitFor("the remote repository's warm sandbox", (state) => repoPool(state)?.warm === 1);
    expect(warm.repositories.find((repository) => repository.repositoryKey === "repo-2")).toMatchObject({ held: "unsupported", warm: 0 });
    const poolId = repoPool(warm)?.entries[0]?.sandboxId ?? "";
    // The stand-in bridge asked the pool channel for its clone's credential and got the control plane's.
    expect(h.provider.credentials.get(poolId)).toBe(github.token);
    expect(repoPool(warm)?.entries[0]?.baseHead).toBe(github.main());
  });

  it("retires a remote repository's warm sandbox once its base branch moves on the remote (read with the pool's credential), and keeps it while it does not", async () => {
    const { h, github, remote, gitCredential } = await remoteHarness();
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    h.provider.behaviour = () => {
      const behaviour: Behaviour = first ? { kind: "warm" } : { kind: "warm", gate };
      first = false;
      return behaviour;
    };
    await h.setTargets([{ repositoryKey: "repo-1", size: 1, repository: remote, gitCredential }]);
    const warm = await h.waitFor("a warm sandbox", (state) => repoPool(state)?.warm === 1);
    const kept = repoPool(warm)?.entries[0]?.sandboxId;
    // The base has not moved: reconciles read the remote (with the token: every request served) and keep it.
    const servedAtWarm = github.served();
    // (Two reads: each is an advertisement and an ls-refs request.)
    await h.waitFor("two more reads of the remote", () => github.served() >= servedAtWarm + 4);
    expect(github.repository.requests.every((request) => request.status === 200)).toBe(true);
    expect(repoPool(await h.state())).toMatchObject({ warm: 1, refreshing: 0, entries: [{ sandboxId: kept }] });
    expect(h.provider.terminated).toEqual([]);

    const oldHead = github.main();
    const newHead = github.moveMain();
    const refreshing = await h.waitFor("the refresh", (state) => repoPool(state)?.refreshing === 1);
    expect(repoPool(refreshing)).toMatchObject({ warm: 0 });
    expect(h.provider.terminated).toEqual([kept]);

    release();
    const refreshed = await h.waitFor("the new warm sandbox", (state) => repoPool(state)?.warm === 1);
    expect(repoPool(refreshed)?.entries[0]?.baseHead).toBe(newHead);
    expect(newHead).not.toBe(oldHead);
  });

  it("a remote repository's claim is up to date only when the remote, read at the claim, has the sandbox's base and no session branch", async () => {
    const { h, github, remote, gitCredential } = await remoteHarness();
    await h.setTargets([{ repositoryKey: "repo-1", size: 1, repository: remote, gitCredential }]);
    const claim = async (sandboxId: string) => {
      const state = await h.waitFor("a warm sandbox", (current) => repoPool(current)?.warm === 1);
      const poolId = repoPool(state)?.entries[0]?.sandboxId ?? "";
      const response = await h.signed("POST", "/v1/sandboxes", createRequest(h, sandboxId, { repository: remote }));
      expect(await response.json()).toMatchObject({ sandboxId, providerId: poolId, warm: true });
      return h.provider.claims.get(poolId);
    };

    expect(await claim("sbx-new")).toMatchObject({ repoUrl: github.url, upToDate: true });
    // The session branch exists on the remote: the bridge must sync it.
    github.repository.addHead("main", "refs/heads/lookout/ses-sbx-old", { "work.txt": "work\n" }, "earlier work");
    expect(await claim("sbx-old")).not.toHaveProperty("upToDate");
    // The remote cannot be read (the token was revoked): unknown is never "nothing moved".
    await h.setTargets([
      { repositoryKey: "repo-1", size: 1, repository: remote, gitCredential: { ...gitCredential, password: "ghs_revoked" } },
    ]);
    expect(await claim("sbx-unread")).not.toHaveProperty("upToDate");
  });

  it("a claim waits only claimHeadsWaitMs for a remote that does not answer, then hands the sandbox over to sync", async () => {
    const { h, gitCredential } = await remoteHarness({ claimHeadsWaitMs: 300 });
    // A remote that accepts connections and never answers (git's own timeout is 10 s).
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const unanswered = { kind: "remote" as const, cloneUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/acme/app.git` };
    try {
      await h.setTargets([{ repositoryKey: "repo-1", size: 1, repository: unanswered, gitCredential }]);
      const warm = await h.waitFor("a warm sandbox", (state) => repoPool(state)?.warm === 1);
      const poolId = repoPool(warm)?.entries[0]?.sandboxId ?? "";
      const startedAt = Date.now();
      const response = await h.signed("POST", "/v1/sandboxes", createRequest(h, "sbx-slow", { repository: unanswered }));
      expect(await response.json()).toMatchObject({ sandboxId: "sbx-slow", providerId: poolId, warm: true });
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      expect(h.provider.claims.get(poolId)).toMatchObject({ repoUrl: unanswered.cloneUrl });
      expect(h.provider.claims.get(poolId)).not.toHaveProperty("upToDate");
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("keeps no pool with LOOKOUT_POOL=off, whatever the targets say, and says so", async () => {
    const h = await harness({ pool: { enabled: false } });
    await h.setTargets([{ repositoryKey: "repo-1", size: 2 }]);
    const held = await h.waitFor("the pool held as disabled", (state) => repoPool(state)?.held === "disabled");
    expect(repoPool(held)).toMatchObject({ size: 2, warm: 0, starting: 0 });
    expect(h.provider.created).toEqual([]);
  });

  it("gives a pool sandbox a git credential that reads the local repository and pushes nothing, and its channel refuses other tokens", async () => {
    const h = await harness();
    await h.setTargets([{ repositoryKey: "repo-1", size: 1 }]);
    const warm = await h.waitFor("a warm sandbox", (state) => repoPool(state)?.warm === 1);
    const poolId = repoPool(warm)?.entries[0]?.sandboxId ?? "";
    const credential = h.provider.credentials.get(poolId) ?? "";
    const basic = Buffer.from(`lookout:${credential}`).toString("base64");
    const url = `${h.gateway.url}/git/${poolId}.git`;
    const withAuth = ["-c", `http.extraHeader=Authorization: Basic ${basic}`];
    // Asynchronously: the gateway answers from this same process.
    const run = (...args: string[]) => promisify(execFile)("git", args, { cwd: h.repo, env: GIT_ENV, timeout: 20_000 });
    expect((await run(...withAuth, "ls-remote", url, "refs/heads/main")).stdout).toContain(h.head());
    const pushed = await run(...withAuth, "push", url, "HEAD:refs/heads/pool-push").then(
      () => "accepted",
      (error: unknown) => String((error as { stderr?: string }).stderr ?? error),
    );
    expect(pushed).toContain("pre-receive hook declined");
    expect(git(h.repo, "branch", "--list", "pool-push")).toBe("");

    const forged = await fetch(`${h.gateway.url}/pool-bridge/${poolId}/claim?waitMs=0`, {
      headers: { authorization: "Bearer lks_not-the-pool-token" },
    });
    expect(forged.status).toBe(401);
  });
});
