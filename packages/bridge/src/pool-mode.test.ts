import type { PoolClaim } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { claimedConfig, loadConfig } from "./config";
import { silentLogger } from "./logger";
import { PoolChannel, PoolEnded } from "./pool-channel";
import { claimNeedsRestart } from "./pool-mode";

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
