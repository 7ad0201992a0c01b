import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PoolClaim } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { claimedConfig, loadConfig } from "./config";
import { Git } from "./git";
import { silentLogger } from "./logger";
import { PoolChannel, PoolEnded } from "./pool-channel";
import { claimNeedsRestart, preparePoolSandbox } from "./pool-mode";

const POOL_ENV = {
  LOOKOUT_SESSION_ID: "pool-0123456789abcdef01",
  LOOKOUT_SANDBOX_ID: "pool-0123456789abcdef01",
  LOOKOUT_CONTROL_PLANE_URL: "http://127.0.0.1:4480",
  LOOKOUT_MODEL: "scripted/demo",
  LOOKOUT_REPO_URL: "http://127.0.0.1:4480/git/pool-0123456789abcdef01.git",
  LOOKOUT_BRANCH: "main",
  LOOKOUT_POOL_URL: "http://127.0.0.1:4480/pool-bridge/pool-0123456789abcdef01/",
  LOOKOUT_SETUP_TIMEOUT_MS: "120000",
};

const CLAIM: PoolClaim = {
  sessionId: "ses_1",
  sandboxId: "sbx_1",
  sandboxToken: "lks_session-token-0123456789012345678901",
  controlPlaneUrl: "http://127.0.0.1:4480/",
  repoUrl: "http://127.0.0.1:4480/git/ses_1.git",
  baseBranch: "main",
  branch: "lookout/ses_1",
  model: "anthropic/claude-test",
  env: {},
};

describe("a warm-pool bridge's configuration", () => {
  it("is in pool mode with LOOKOUT_POOL_URL, and a claim replaces every session value and ends pool mode", () => {
    const pool = loadConfig(POOL_ENV, "lks_pool_token");
    expect(pool.pool).toEqual({ url: "http://127.0.0.1:4480/pool-bridge/pool-0123456789abcdef01", setupTimeoutMs: 120_000 });

    const claimed = claimedConfig(pool, { ...CLAIM, readOnly: true });
    expect(claimed).toMatchObject({
      sessionId: "ses_1",
      sandboxId: "sbx_1",
      sandboxToken: CLAIM.sandboxToken,
      controlPlaneUrl: "http://127.0.0.1:4480",
      bridgeSocketUrl: "ws://127.0.0.1:4480/api/sessions/ses_1/bridge",
      repoUrl: CLAIM.repoUrl,
      branch: "lookout/ses_1",
      model: "anthropic/claude-test",
      readOnly: true,
      pool: undefined,
    });
    // What the pool prepared stays: the work tree, OpenCode's home, the isolation.
    expect(claimed.workdir).toBe(pool.workdir);
    expect(claimed.home).toBe(pool.home);
  });

  it("restarts OpenCode only for a claim that brings secrets", () => {
    expect(claimNeedsRestart(CLAIM)).toBe(false);
    expect(claimNeedsRestart({ ...CLAIM, env: { API_KEY: "x" } })).toBe(true);
  });
});

describe("the pool channel", () => {
  it("polls with the pool token until the claim arrives, and ends when the gateway lets the sandbox go", async () => {
    const answers = [new Response(null, { status: 204 }), Response.json(CLAIM)];
    const seen: { url: string; authorization: string | null }[] = [];
    const fetcher: typeof fetch = (input, init) => {
      seen.push({
        url: input instanceof Request ? input.url : input.toString(),
        authorization: new Headers(init?.headers).get("authorization"),
      });
      return Promise.resolve(answers.shift() ?? new Response(null, { status: 204 }));
    };
    const channel = new PoolChannel("http://gateway/pool-bridge/pool-1", "lks_pool_token", silentLogger, fetcher);
    await expect(channel.waitForClaim()).resolves.toEqual(CLAIM);
    expect(seen).toHaveLength(2);
    expect(seen.every((call) => call.authorization === "Bearer lks_pool_token" && call.url.includes("/claim?waitMs="))).toBe(true);

    const refusing = new PoolChannel("http://gateway/pool-bridge/pool-1", "lks_pool_token", silentLogger, () =>
      Promise.resolve(Response.json({ error: { code: "INVALID_TOKEN", message: "no" } }, { status: 401 })),
    );
    await expect(refusing.waitForClaim()).rejects.toBeInstanceOf(PoolEnded);
  });
});

describe("a pool sandbox started from the repository's image", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "S", GIT_AUTHOR_EMAIL: "s@x", GIT_COMMITTER_NAME: "S", GIT_COMMITTER_EMAIL: "s@x" };
  const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env: gitEnv, encoding: "utf8" }).trim();

  it("catches up with the base branch before it runs the setup script and reports warm", async () => {
    const root = mkdtempSync(join(tmpdir(), "lookout-pool-image-"));
    dirs.push(root);
    // The repository, and an image of it: a clone made when the base was one commit older.
    const origin = join(root, "origin");
    mkdirSync(join(origin, ".lookout"), { recursive: true });
    git(root, "init", "--quiet", "--initial-branch=main", origin);
    writeFileSync(join(origin, ".lookout/setup.sh"), "git log -1 --format=%s > .setup-saw\n");
    git(origin, "add", "--all");
    git(origin, "commit", "--quiet", "-m", "first");
    const image = join(root, "image");
    git(root, "clone", "--quiet", origin, image);
    writeFileSync(join(origin, "new.txt"), "after the image\n");
    git(origin, "add", "--all");
    git(origin, "commit", "--quiet", "-m", "second");

    const reports: unknown[] = [];
    const channel = new PoolChannel("http://gateway/pool-bridge/pool-1", "lks_pool_token", silentLogger, (_input, init) => {
      reports.push(JSON.parse(typeof init?.body === "string" ? init.body : "null"));
      return Promise.resolve(Response.json({ ok: true }));
    });
    const config = loadConfig({ ...POOL_ENV, LOOKOUT_REPO_URL: origin, LOOKOUT_WORKDIR: image }, "lks_pool_token");
    const checkout = new Git(image, { name: "Lookout", email: "bot@lookout.dev" }, silentLogger);
    const privateDir = join(root, "private");
    mkdirSync(privateDir);
    const prepared = await preparePoolSandbox({ config, git: checkout, privateDir, channel, agentUser: undefined, logger: silentLogger });

    expect(prepared.baseHead).toBe(git(origin, "rev-parse", "HEAD"));
    expect(existsSync(join(image, "new.txt"))).toBe(true);
    // The setup script ran on the caught-up tree, and what it made stays out of commits.
    expect(git(image, "show", "HEAD:new.txt")).toBe("after the image");
    expect(execFileSync("cat", [join(image, ".setup-saw")], { encoding: "utf8" }).trim()).toBe("second");
    expect(git(image, "status", "--porcelain")).toBe("");
    expect(reports).toEqual([{ phase: "cloning" }, { phase: "setup" }]);
  });
});
