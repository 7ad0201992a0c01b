import { describe, expect, it } from "vitest";
import { opencodeSpawnOptions } from "./opencode-server";

const base = {
  cwd: "/workspace/repo",
  home: "/home/sandbox",
  config: { model: "scripted/demo" },
  gitIdentity: { name: "Lookout", email: "bot@lookout.local" },
  baseEnv: { PATH: "/usr/bin", LOOKOUT_SANDBOX_ID: "sbx_1", LOOKOUT_MODEL_PROVIDERS: "[]", MY_REPO_SECRET: "s3cret" },
};

describe("how OpenCode is spawned", () => {
  it("runs as the agent's user under separate-user isolation, in its own process group", () => {
    const options = opencodeSpawnOptions({ ...base, runAs: { uid: 1000, gid: 1001, name: "sandbox" } }, "pw");
    expect(options).toMatchObject({ cwd: "/workspace/repo", uid: 1000, gid: 1001, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  });

  it("runs as the bridge's own user otherwise", () => {
    const options = opencodeSpawnOptions(base, "pw");
    expect(options).not.toHaveProperty("uid");
    expect(options).not.toHaveProperty("gid");
  });

  it("passes on no LOOKOUT_ variable, and keeps the repository's secrets, which are the agent's by design", () => {
    const env = opencodeSpawnOptions(base, "pw").env ?? {};
    expect(Object.keys(env).filter((key) => key.startsWith("LOOKOUT_"))).toEqual([]);
    expect(env).toMatchObject({ MY_REPO_SECRET: "s3cret", HOME: "/home/sandbox", OPENCODE_SERVER_PASSWORD: "pw" });
  });
});
