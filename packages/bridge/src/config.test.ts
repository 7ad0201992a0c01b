import { describe, expect, it } from "vitest";
import { bridgeSocketUrl, ConfigError, loadConfig, splitModelRef } from "./config";

const base = {
  LOOKOUT_SESSION_ID: "sess_1",
  LOOKOUT_SANDBOX_ID: "sbx_1",
  LOOKOUT_SANDBOX_TOKEN: "secret",
  LOOKOUT_CONTROL_PLANE_URL: "http://127.0.0.1:8787/",
  LOOKOUT_MODEL: "scripted/demo",
};

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig(base);
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
    });
  });

  it("parses the model providers JSON", () => {
    const providers = [{ id: "scripted", kind: "openai-compatible", baseUrl: "http://127.0.0.1:8789/v1", models: ["demo"] }];
    expect(loadConfig({ ...base, LOOKOUT_MODEL_PROVIDERS: JSON.stringify(providers) }).modelProviders).toEqual(providers);
  });

  it("names missing and invalid variables", () => {
    const attempt = () =>
      loadConfig({
        LOOKOUT_SESSION_ID: "s",
        LOOKOUT_CONTROL_PLANE_URL: "ftp://x",
        LOOKOUT_BRANCH: "-rf",
        LOOKOUT_MODEL_PROVIDERS: "[nope",
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/set LOOKOUT_SANDBOX_ID, LOOKOUT_SANDBOX_TOKEN, LOOKOUT_MODEL/);
    expect(attempt).toThrow(/LOOKOUT_CONTROL_PLANE_URL: must be an http\(s\) URL/);
    expect(attempt).toThrow(/LOOKOUT_BRANCH: branch name "-rf" starts with '-'/);
    expect(attempt).toThrow(/LOOKOUT_MODEL_PROVIDERS: is not valid JSON/);
  });

  it("rejects providers of unknown kinds and duplicate ids", () => {
    const bad = [{ id: "x", kind: "llama", models: ["m"] }];
    expect(() => loadConfig({ ...base, LOOKOUT_MODEL_PROVIDERS: JSON.stringify(bad) })).toThrow(/LOOKOUT_MODEL_PROVIDERS/);
    const twice = [
      { id: "x", kind: "openai", models: ["m"] },
      { id: "x", kind: "anthropic", models: ["n"] },
    ];
    expect(() => loadConfig({ ...base, LOOKOUT_MODEL_PROVIDERS: JSON.stringify(twice) })).toThrow(/twice/);
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
