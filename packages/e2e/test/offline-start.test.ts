import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, SessionClient, type Stack, startStack } from "../src";

/**
 * Issue 13's first item on the real stack: a sandbox whose egress policy is `none` (the npm
 * registry, like everything outside Lookout, is unreachable from it) starts, runs OpenCode and
 * finishes a prompt with the offline model, and nothing in it even tries to download a package:
 * OpenCode's plugin packages come from the prepared directory the gateway binds in read-only.
 */
let stack: Stack;
let client: SessionClient | undefined;

beforeAll(async () => {
  stack = await startStack({ gatewayEnv: { LOOKOUT_SANDBOX_EGRESS: "none" } });
});

afterAll(async () => {
  client?.close();
  await stack?.stop();
});

describe("a sandbox that cannot reach the npm registry", () => {
  it("runs a prompt to completion and downloads nothing at start", async () => {
    const cookie = await stack.login();
    const call = apiClient(stack.url, cookie);
    const repository = await call<{ repository: { id: string } }>("POST", "/api/repositories", {
      kind: "local",
      path: createRepoFixture(),
      name: "offline",
    });
    expect(repository.status).toBe(201);
    const prompt = "run command echo offline > /workspace/offline";
    const created = await call<{ session: { id: string } }>("POST", "/api/sessions", {
      repositoryId: repository.json.repository.id,
      prompt,
    });
    expect(created.status).toBe(201);
    client = new SessionClient(stack.url, cookie, created.json.session.id);
    await client.connect(0);

    const finished = await client.waitForEvent((e) => e.payload.type === "prompt.finished", 170_000, "the first prompt to finish");
    expect(finished.payload, stack.logs().slice(-4000)).toMatchObject({ status: "completed" });
    expect(client.events().some((e) => e.payload.type === "message.text" && e.payload.text.length > 0)).toBe(true);

    const status = client.events().findLast((e) => e.payload.type === "sandbox.status" && e.payload.sandboxId);
    const sandboxId = status?.payload.type === "sandbox.status" ? status.payload.sandboxId : undefined;
    expect(sandboxId).toBeDefined();
    const sandboxDir = join(stack.stateDir, "gateway", "sandboxes", sandboxId ?? "");
    expect(readFileSync(join(sandboxDir, "workspace", "offline"), "utf8").trim()).toBe("offline");

    // OpenCode found its packages in the shared read-only directory: its config directory in the
    // sandbox's own home is only the bind's mount point, and no npm cache was filled.
    expect(readdirSync(join(sandboxDir, "home", ".config", "opencode"))).toEqual([]);
    expect(existsSync(join(sandboxDir, "home", ".npm"))).toBe(false);
    // And nothing asked the relay for the registry (the policy would have refused it, and logged so).
    const refused = stack
      .logs()
      .split("\n")
      .filter((line) => line.includes("egress refused"));
    expect(refused.filter((line) => /npmjs|registry/.test(line))).toEqual([]);
  });
});
