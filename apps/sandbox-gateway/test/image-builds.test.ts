import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeGitRepository } from "@lookout/e2e/fake-github-git";
import { signRequest, type ImageBuildState } from "@lookout/protocol";
import { LocalProvider, silentLogger } from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewaySettings } from "../src/config";
import { startGateway, type RunningGateway } from "../src/server";

/**
 * Repository image builds on the real local provider: a bubblewrap sandbox running the bundled
 * bridge in build mode clones a local repository over the gateway's git HTTP, runs its setup
 * script, reports, and is snapshotted and terminated.
 */
const SECRET = "control-plane-secret-for-tests-0123456789";
const GIT_SECRET = "git-credential-secret-for-tests-0123456789";
const BRIDGE_BUNDLE = resolve(fileURLToPath(new URL("../../../packages/bridge/dist/bridge.mjs", import.meta.url)));

let dataDir: string;
let gateway: RunningGateway;
let provider: LocalProvider;
/** A GitHub-like remote for the remote-repository builds: git smart HTTP behind installation tokens, on a private address. */
let remote: FakeGitRepository;
let remoteServer: Server;
let remoteUrl: string;
const READ_ONLY_TOKEN = "ghs_read_only_installation_token";

function settings(): GatewaySettings {
  return {
    repoRoot: join(dataDir, "lookout-install"),
    host: "127.0.0.1",
    port: 0,
    dataDir: join(dataDir, "gateway"),
    serviceSecret: SECRET,
    gitCredentialSecret: GIT_SECRET,
    publicUrl: undefined,
    provider: { kind: "local", bridgeBundle: BRIDGE_BUNDLE, opencodeBin: undefined, bwrapPath: "/usr/bin/bwrap", unsafeNoSandbox: false },
    models: { scriptedUrl: undefined, scriptedToken: undefined, anthropic: undefined, openai: undefined, openaiCompatible: undefined },
    logLevel: "error",
    localRepoRoots: realpathSync(tmpdir()),
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

/** A repository on the host whose setup script is `setup` (none when undefined). */
function repository(name: string, setup: string | undefined): string {
  const dir = join(dataDir, name);
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", dir]);
  writeFileSync(join(dir, "README.md"), `# ${name}\n`);
  if (setup !== undefined) {
    mkdirSync(join(dir, ".lookout"));
    writeFileSync(join(dir, ".lookout", "setup.sh"), setup);
  }
  const env = { ...process.env, GIT_AUTHOR_NAME: "S", GIT_AUTHOR_EMAIL: "s@x", GIT_COMMITTER_NAME: "S", GIT_COMMITTER_EMAIL: "s@x" };
  execFileSync("git", ["add", "--all"], { cwd: dir, env });
  execFileSync("git", ["commit", "--quiet", "-m", "seed"], { cwd: dir, env });
  return dir;
}

function head(dir: string): string {
  return execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
}

/** Starts a build and polls its state until it is no longer building (with a deadline). */
async function build(buildId: string, path: string, setupTimeoutMs?: number): Promise<ImageBuildState> {
  const started = await signedFetch("POST", "/v1/images/builds", {
    buildId,
    repository: { kind: "local", path },
    baseBranch: "main",
    controlPlaneUrl: "http://127.0.0.1:9",
    ...(setupTimeoutMs ? { setupTimeoutMs } : {}),
  });
  expect(started.status).toBe(202);
  expect(await started.json()).toMatchObject({ buildId, status: "building" });
  return waitForBuild(buildId);
}

/** Polls a build's state until it is no longer building (with a deadline). */
async function waitForBuild(buildId: string): Promise<ImageBuildState> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const state = (await (await signedFetch("GET", `/v1/images/builds/${buildId}`)).json()) as ImageBuildState;
    if (state.status !== "building") return state;
    if (Date.now() > deadline) throw new Error(`build ${buildId} still building after 90 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  if (!existsSync(BRIDGE_BUNDLE))
    throw new Error(`Build the bridge first (pnpm --filter @lookout/bridge build): ${BRIDGE_BUNDLE} is missing.`);
  dataDir = realpathSync(mkdtempSync(join(tmpdir(), "lookout-image-builds-")));
  provider = await LocalProvider.start({
    dataDir: join(dataDir, "gateway", "sandboxes-root"),
    bridgeBundle: BRIDGE_BUNDLE,
    opencodeBin: undefined,
  });
  remote = new FakeGitRepository("acme/remote-app", {
    "README.md": "# remote-app\n",
    ".lookout/setup.sh": "echo remote setup ran\nmkdir -p deps && echo ok > deps/marker\n",
  });
  remoteServer = createServer((request, response) => {
    void remote
      .serve(request, response, (token) => (token === READ_ONLY_TOKEN ? "read" : undefined))
      .then((served) => {
        if (!served) response.writeHead(404).end();
      });
  });
  // 127.0.0.2: a private address the relay reaches only because the operator listed it (as for GitHub Enterprise).
  await new Promise<void>((done) => remoteServer.listen(0, "127.0.0.2", done));
  const remotePort = (remoteServer.address() as AddressInfo).port;
  remoteUrl = `http://127.0.0.2:${remotePort}/acme/remote-app.git`;
  gateway = await startGateway({
    ...settings(),
    sandboxProvider: provider,
    logger: silentLogger,
    privateDestinations: [{ host: "127.0.0.2", port: remotePort }],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.images.settled();
  await gateway?.close();
  await provider?.close();
  await new Promise((done) => remoteServer?.close(done));
  remote?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("repository image builds", () => {
  it("clones the base branch's head, runs the setup script, snapshots the sandbox and terminates it", async () => {
    const repo = repository("app", "echo installing dependencies\nmkdir -p node_modules\necho built > node_modules/.setup-marker\n");
    const state = await build("build-ok", repo);
    expect(state).toMatchObject({ buildId: "build-ok", status: "ready", baseSha: head(repo) });
    expect(state.output).toContain("installing dependencies");
    expect(state.finishedAtMs).toBeGreaterThanOrEqual(state.startedAtMs);
    // The snapshot holds the clone with what the setup script made.
    const archive = join(dataDir, "gateway", "sandboxes-root", "snapshots", `${state.snapshotId}.tar.gz`);
    const listing = execFileSync("tar", ["-tzf", archive], { encoding: "utf8" });
    expect(listing).toMatch(/workspace\/repo\/node_modules\/\.setup-marker/);
    expect(listing).toMatch(/workspace\/repo\/\.git\//);
    // The build sandbox is gone and holds no place under the cap.
    expect(await (await signedFetch("GET", "/v1/capacity")).json()).toMatchObject({ running: 0 });
  }, 120_000);

  it("builds a remote repository's image with the control plane's read-only credential, never pushing", async () => {
    const started = await signedFetch("POST", "/v1/images/builds", {
      buildId: "build-remote",
      repository: { kind: "remote", cloneUrl: remoteUrl },
      baseBranch: "main",
      controlPlaneUrl: "http://127.0.0.1:9",
      gitCredential: { username: "x-access-token", password: READ_ONLY_TOKEN, expiresAt: Date.now() + 3_600_000 },
    });
    expect(started.status).toBe(202);
    const state = await waitForBuild("build-remote");
    expect(state).toMatchObject({ status: "ready", baseSha: remote.sha("refs/heads/main") });
    expect(state.output).toContain("remote setup ran");
    const archive = join(dataDir, "gateway", "sandboxes-root", "snapshots", `${state.snapshotId}.tar.gz`);
    expect(execFileSync("tar", ["-tzf", archive], { encoding: "utf8" })).toMatch(/workspace\/repo\/deps\/marker/);
    // The clone used the token (every upload-pack answered), and nothing tried to push.
    expect(remote.requests.filter((request) => request.service === "git-upload-pack").map((request) => request.status)).toContain(200);
    expect(remote.requests.filter((request) => request.status !== 200)).toEqual([]);
    expect(remote.requests.filter((request) => request.service === "git-receive-pack")).toEqual([]);
  }, 120_000);

  it("refuses a remote repository without a valid read-only credential, starting nothing", async () => {
    for (const [buildId, credential] of [
      ["build-remote-none", undefined],
      ["build-remote-expired", { username: "x-access-token", password: READ_ONLY_TOKEN, expiresAt: Date.now() - 1_000 }],
    ] as const) {
      const refused = await signedFetch("POST", "/v1/images/builds", {
        buildId,
        repository: { kind: "remote", cloneUrl: remoteUrl },
        baseBranch: "main",
        controlPlaneUrl: "http://127.0.0.1:9",
        ...(credential ? { gitCredential: credential } : {}),
      });
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ error: { code: "SCM_NOT_CONFIGURED" } });
      expect((await signedFetch("GET", `/v1/images/builds/${buildId}`)).status).toBe(404);
    }
    expect(await (await signedFetch("GET", "/v1/capacity")).json()).toMatchObject({ running: 0 });
  });

  it("reports a failing setup script with its output and keeps no image", async () => {
    const repo = repository("broken", "echo 'npm ERR! missing peer dependency'\nexit 3\n");
    const state = await build("build-fails", repo);
    expect(state).toMatchObject({ status: "failed" });
    expect(state.snapshotId).toBeUndefined();
    expect(state.error).toMatch(/exited with code 3/);
    expect(state.output).toContain("npm ERR! missing peer dependency");
    expect(await (await signedFetch("GET", "/v1/capacity")).json()).toMatchObject({ running: 0 });
  }, 120_000);

  it("retires a build sandbox an earlier gateway run left behind when the gateway starts again", async () => {
    // A build whose setup script waits forever, on a gateway of its own that then stops.
    const repo = repository("slow", "until false; do sleep 0.2; done\n");
    const earlier = await startGateway({
      ...settings(),
      dataDir: join(dataDir, "restarting"),
      sandboxProvider: provider,
      logger: silentLogger,
    });
    const payload = JSON.stringify({
      buildId: "build-orphan",
      repository: { kind: "local", path: repo },
      baseBranch: "main",
      controlPlaneUrl: "http://127.0.0.1:9",
    });
    const headers = await signRequest(
      { service: "control-plane", method: "POST", pathAndQuery: "/v1/images/builds", body: payload },
      SECRET,
    );
    expect(
      (
        await fetch(`${earlier.url}/v1/images/builds`, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: payload,
        })
      ).status,
    ).toBe(202);
    const sandboxesDir = join(dataDir, "gateway", "sandboxes-root", "sandboxes");
    const deadline = Date.now() + 30_000;
    let orphan: string | undefined;
    while (!(orphan = readdirSync(sandboxesDir).find((name) => name.startsWith("img-")))) {
      if (Date.now() > deadline) throw new Error("the build sandbox never appeared");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await earlier.close();
    expect(existsSync(provider.sandboxDir(orphan))).toBe(true);

    const again = await startGateway({
      ...settings(),
      dataDir: join(dataDir, "restarting"),
      sandboxProvider: provider,
      logger: silentLogger,
    });
    try {
      expect(existsSync(provider.sandboxDir(orphan))).toBe(false);
      // The earlier run's build saw its sandbox go and ended as failed.
      await earlier.images.settled();
      expect(earlier.images.get("build-orphan")).toMatchObject({ status: "failed" });
    } finally {
      await again.close();
    }
  }, 60_000);

  it("refuses what it cannot build, and answers a repeated build id with the same build", async () => {
    const invalid = await signedFetch("POST", "/v1/images/builds", { buildId: "x" });
    expect(((await invalid.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_FAILED");
    expect((await signedFetch("GET", "/v1/images/builds/never-started")).status).toBe(404);
    const again = await signedFetch("POST", "/v1/images/builds", {
      buildId: "build-ok",
      repository: { kind: "local", path: join(dataDir, "app") },
      baseBranch: "main",
      controlPlaneUrl: "http://127.0.0.1:9",
    });
    expect(await again.json()).toMatchObject({ buildId: "build-ok", status: "ready" });
    // The build channel opens for no one without the build's token.
    const channel = await fetch(`${gateway.url}/image-build/img-0123456789abcdef01/report`, {
      method: "POST",
      headers: { authorization: "Bearer nope", "content-type": "application/json" },
      body: JSON.stringify({ outcome: "failed", message: "forged" }),
    });
    expect(channel.status).toBe(401);
  });
});
