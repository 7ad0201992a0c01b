import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SandboxPoolRepository, SandboxPoolResponse } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, SessionClient, type Stack, startStack } from "../src";

/**
 * The warm pool for real (ADR 0012): the gateway keeps a bubblewrap sandbox for a local
 * repository cloned, set up by the repository's `.lookout/setup.sh` and with OpenCode running; a
 * session on that repository claims it instead of starting one, and the pool refills.
 */
const SETUP_SCRIPT = 'echo "installing dependencies"\necho "set up by the pool" > .pool-setup-ran\n';
/** A repository secret: the claimed sandbox's OpenCode must see it, so the claim restarts OpenCode with it. */
const SECRET_NAME = "POOL_E2E_SECRET";

let stack: Stack;
let cookie: string;
let repositoryId: string;
const clients: SessionClient[] = [];

beforeAll(async () => {
  // A short reconcile period: the pool notices a claim and refills without waiting 15 s.
  stack = await startStack({ gatewayEnv: { LOOKOUT_POOL: "on", LOOKOUT_POOL_TICK_MS: "500" } });
  cookie = await stack.login();
  const repo = createRepoFixture({ ".lookout/setup.sh": SETUP_SCRIPT, ".gitignore": ".pool-setup-ran\n" });
  const created = await apiClient(stack.url, cookie)<{ repository: { id: string } }>("POST", "/api/repositories", {
    kind: "local",
    path: repo,
    name: "pooled",
  });
  expect(created.status).toBe(201);
  repositoryId = created.json.repository.id;
}, 180_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await stack?.stop();
});

async function poolOf(): Promise<SandboxPoolRepository | undefined> {
  const read = await apiClient(stack.url, cookie)<SandboxPoolResponse>("GET", "/api/sandbox-pool");
  expect(read.status).toBe(200);
  return read.json.repositories.find((repository) => repository.repositoryId === repositoryId);
}

/** Polls the pool through the API until `accept` holds (with a deadline, never a blind sleep). */
async function waitForPool(accept: (pool: SandboxPoolRepository | undefined) => boolean, what: string, timeoutMs = 150_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pool = await poolOf();
    if (accept(pool)) return pool;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}; last pool: ${JSON.stringify(pool)}\n${stack.logs().slice(-6_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The provider's id of a sandbox, from the gateway's registry (a claimed one keeps its pool id). */
function providerIdOf(sandboxId: string): string | undefined {
  const registry = JSON.parse(readFileSync(join(stack.stateDir, "gateway", "registry.json"), "utf8")) as {
    sandboxes: { sandboxId: string; providerId: string }[];
  };
  return registry.sandboxes.find((record) => record.sandboxId === sandboxId)?.providerId;
}

describe("the warm pool", () => {
  it("a session claims the repository's warm sandbox (cloned, set up, OpenCode running), its prompt completes, and the pool refills", async () => {
    const secret = await apiClient(stack.url, cookie)("PUT", `/api/repositories/${repositoryId}/secrets/${SECRET_NAME}`, {
      value: "warm-pool-secret-value",
    });
    expect(secret.status).toBe(204);
    const set = await apiClient(stack.url, cookie)("PUT", `/api/sandbox-pool/repositories/${repositoryId}`, { size: 1 });
    expect(set.status).toBe(200);
    const warm = await waitForPool((pool) => pool?.pool?.warm === 1, "the pool to hold a warm sandbox");
    const poolSandboxId = warm?.pool?.entries[0]?.sandboxId;
    expect(poolSandboxId).toMatch(/^pool-/);
    expect(warm?.pool?.entries[0]).toMatchObject({ state: "warm", phase: "warm" });

    const created = await apiClient(stack.url, cookie)<{ session: { id: string } }>("POST", "/api/sessions", {
      repositoryId,
      prompt: "demo",
    });
    expect(created.status).toBe(201);
    const client = new SessionClient(stack.url, cookie, created.json.session.id);
    clients.push(client);
    await client.connect(0);
    const finished = await client.waitForEvent((e) => e.payload.type === "prompt.finished", 150_000, "the demo prompt to finish");
    expect(finished.payload).toMatchObject({ status: "completed" });

    // The session's sandbox is the pool's: re-keyed to the session's sandbox id, same provider sandbox.
    const status = client.events().findLast((e) => e.payload.type === "sandbox.status" && e.payload.sandboxId);
    const sandboxId = status?.payload.type === "sandbox.status" ? status.payload.sandboxId : undefined;
    expect(sandboxId).toBeDefined();
    expect(providerIdOf(sandboxId ?? "")).toBe(poolSandboxId);
    expect(client.events().some((e) => e.payload.type === "sandbox.status" && e.payload.status === "ready")).toBe(true);
    // The setup script ran in that work tree before the session existed; its output is ignored by git.
    const workspace = join(stack.stateDir, "gateway", "sandboxes", poolSandboxId ?? "", "workspace", "repo");
    expect(existsSync(join(workspace, ".pool-setup-ran"))).toBe(true);
    const files = client.timeline().find((e) => e.payload.type === "files.changed");
    expect(files?.payload.type === "files.changed" && files.payload.files.map((file) => file.path)).toEqual(["LOOKOUT_DEMO.md"]);

    // The session's secret reached the agent's tools: OpenCode was restarted with it at the claim.
    const check = `run the command test -n "$${SECRET_NAME}" && echo secret-reached-the-agent`;
    const sent = await apiClient(stack.url, cookie)<{ promptId: string }>("POST", `/api/sessions/${client.sessionId}/prompts`, {
      requestId: "secret-check",
      text: check,
    });
    expect(sent.status).toBe(202);
    await client.waitForEvent(
      (e) => e.payload.type === "prompt.finished" && e.payload.promptId === sent.json.promptId,
      120_000,
      "the secret check to finish",
    );
    const bash = client
      .timeline()
      .find((e) => e.payload.type === "tool.call" && e.payload.promptId === sent.json.promptId && e.payload.tool === "bash");
    expect(bash?.payload.type === "tool.call" ? bash.payload.output : undefined).toContain("secret-reached-the-agent");

    // The claim is counted and the pool makes a new warm sandbox for the next session.
    const refilled = await waitForPool(
      (pool) => pool?.pool?.claimed === 1 && pool.pool.warm === 1 && pool.pool.entries[0]?.sandboxId !== poolSandboxId,
      "the pool to refill after the claim",
    );
    expect(refilled?.pool?.entries[0]?.sandboxId).not.toBe(poolSandboxId);
  });
});
