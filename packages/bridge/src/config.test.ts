import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { bridgeSocketUrl, ConfigError, loadConfig, splitModelRef, takeSandboxToken } from "./config";

const base = {
  LOOKOUT_SESSION_ID: "sess_1",
  LOOKOUT_SANDBOX_ID: "sbx_1",
  LOOKOUT_CONTROL_PLANE_URL: "http://127.0.0.1:8787/",
  LOOKOUT_MODEL: "scripted/demo",
};
const TOKEN = "secret";

describe("takeSandboxToken", () => {
  it("takes the token from the environment and deletes it there at once", async () => {
    const env: NodeJS.ProcessEnv = { ...base, LOOKOUT_SANDBOX_TOKEN: "from-env" };
    const stdin = new PassThrough();
    const taken = takeSandboxToken(env, stdin);
    // Deleted before the first await: nothing started after this call can inherit it.
    expect(env).not.toHaveProperty("LOOKOUT_SANDBOX_TOKEN");
    expect(await taken).toBe("from-env");
    expect(stdin.destroyed).toBe(false);
  });

  it("reads one line from stdin with LOOKOUT_SANDBOX_TOKEN_SOURCE=stdin and closes stdin", async () => {
    const env: NodeJS.ProcessEnv = { ...base, LOOKOUT_SANDBOX_TOKEN_SOURCE: "stdin" };
    const stdin = new PassThrough();
    const taken = takeSandboxToken(env, stdin);
    expect(env).not.toHaveProperty("LOOKOUT_SANDBOX_TOKEN_SOURCE");
    stdin.write("tok-");
    stdin.write("en-1\r\nignored\n");
    expect(await taken).toBe("tok-en-1");
    expect(stdin.destroyed).toBe(true);
  });

  it("takes a last line without a newline at EOF", async () => {
    const stdin = new PassThrough();
    const taken = takeSandboxToken({ LOOKOUT_SANDBOX_TOKEN_SOURCE: "stdin" }, stdin);
    stdin.end("abc");
    expect(await taken).toBe("abc");
  });

  it("says what is wrong when there is no token", async () => {
    await expect(takeSandboxToken({}, new PassThrough())).rejects.toThrow(
      /set LOOKOUT_SANDBOX_TOKEN, or LOOKOUT_SANDBOX_TOKEN_SOURCE=stdin/,
    );
    const empty = new PassThrough();
    const fromEmpty = takeSandboxToken({ LOOKOUT_SANDBOX_TOKEN_SOURCE: "stdin" }, empty);
    empty.end("\n");
    await expect(fromEmpty).rejects.toThrow(/standard input held no token/);
    await expect(takeSandboxToken({ LOOKOUT_SANDBOX_TOKEN_SOURCE: "stdin" }, new PassThrough(), 50)).rejects.toThrow(
      /no token line arrived on the bridge's standard input within 50 ms/,
    );
    const both: NodeJS.ProcessEnv = { LOOKOUT_SANDBOX_TOKEN_SOURCE: "stdin", LOOKOUT_SANDBOX_TOKEN: "x" };
    await expect(takeSandboxToken(both, new PassThrough())).rejects.toThrow(ConfigError);
    // Even a refused configuration leaves no token behind for a child to inherit.
    expect(both).toEqual({});
    await expect(takeSandboxToken({ LOOKOUT_SANDBOX_TOKEN_SOURCE: "file" }, new PassThrough())).rejects.toThrow(/must be "stdin" or "env"/);
  });
});

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig(base, TOKEN);
    expect(config).toMatchObject({
      sessionId: "sess_1",
      controlPlaneUrl: "http://127.0.0.1:8787",
      bridgeSocketUrl: "ws://127.0.0.1:8787/api/sessions/sess_1/bridge",
      workdir: "/workspace/repo",
      baseBranch: "main",
      branch: "lookout/sess_1",
      modelProviders: [],
      opencodeBin: "opencode",
      committer: { name: "Lookout", email: "bot@lookout.local" },
      heartbeatIntervalMs: 10_000,
      sandboxToken: TOKEN,
      agentIsolation: undefined,
      agentUser: "sandbox",
    });
  });

  it("parses the model providers JSON", () => {
    const providers = [{ id: "scripted", kind: "openai-compatible", baseUrl: "http://127.0.0.1:8789/v1", models: ["demo"] }];
    expect(loadConfig({ ...base, LOOKOUT_MODEL_PROVIDERS: JSON.stringify(providers) }, TOKEN).modelProviders).toEqual(providers);
  });

  it("names missing and invalid variables", () => {
    const attempt = () =>
      loadConfig(
        {
          LOOKOUT_SESSION_ID: "s",
          LOOKOUT_CONTROL_PLANE_URL: "ftp://x",
          LOOKOUT_BRANCH: "-rf",
          LOOKOUT_MODEL_PROVIDERS: "[nope",
          LOOKOUT_AGENT_ISOLATION: "chroot",
        },
        TOKEN,
      );
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/set LOOKOUT_SANDBOX_ID, LOOKOUT_MODEL/);
    expect(attempt).toThrow(/LOOKOUT_AGENT_ISOLATION/);
    expect(attempt).toThrow(/LOOKOUT_CONTROL_PLANE_URL: must be an http\(s\) URL/);
    expect(attempt).toThrow(/LOOKOUT_BRANCH: branch name "-rf" starts with '-'/);
    expect(attempt).toThrow(/LOOKOUT_MODEL_PROVIDERS: is not valid JSON/);
  });

  it("rejects providers of unknown kinds and duplicate ids", () => {
    const bad = [{ id: "x", kind: "llama", models: ["m"] }];
    expect(() => loadConfig({ ...base, LOOKOUT_MODEL_PROVIDERS: JSON.stringify(bad) }, TOKEN)).toThrow(/LOOKOUT_MODEL_PROVIDERS/);
    const twice = [
      { id: "x", kind: "openai", models: ["m"] },
      { id: "x", kind: "anthropic", models: ["n"] },
    ];
    expect(() => loadConfig({ ...base, LOOKOUT_MODEL_PROVIDERS: JSON.stringify(twice) }, TOKEN)).toThrow(/twice/);
  });
});

describe("helpers", () => {
  it("derives wss from https", () => {
    expect(bridgeSocketUrl("https://lookout.example.com/base", "s 1")).toBe("wss://lookout.example.com/base/api/sessions/s%201/bridge");
  });

  it("splits a model ref at the first slash", () => {
    expect(splitModelRef("openrouter/meta/llama-3")).toEqual({ providerID: "openrouter", modelID: "meta/llama-3" });
  });
});

describe("a read-only session", () => {
  it("pushes unless LOOKOUT_READ_ONLY=1, and refuses anything but 0 or 1", () => {
    expect(loadConfig(base, TOKEN).readOnly).toBe(false);
    expect(loadConfig({ ...base, LOOKOUT_READ_ONLY: "0" }, TOKEN).readOnly).toBe(false);
    expect(loadConfig({ ...base, LOOKOUT_READ_ONLY: "1" }, TOKEN).readOnly).toBe(true);
    expect(() => loadConfig({ ...base, LOOKOUT_READ_ONLY: "yes" }, TOKEN)).toThrow(/LOOKOUT_READ_ONLY/);
  });
});
