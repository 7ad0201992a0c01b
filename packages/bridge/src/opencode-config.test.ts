import { describe, expect, it } from "vitest";
import { buildOpencodeConfig } from "./opencode-config";

describe("buildOpencodeConfig", () => {
  it("configures Lookout's providers only, with updates, sharing and OpenCode's own snapshots off and nothing asking for approval", () => {
    const config = buildOpencodeConfig({
      model: "scripted/demo",
      modelProviders: [
        { id: "scripted", kind: "openai-compatible", baseUrl: "http://127.0.0.1:8789/v1", apiKey: "k", models: ["slow"] },
        { id: "anthropic", kind: "anthropic", apiKey: "sk-ant", models: ["claude-sonnet-4-5"] },
      ],
    });
    expect(config).toEqual({
      $schema: "https://opencode.ai/config.json",
      autoupdate: false,
      share: "disabled",
      snapshot: false,
      model: "scripted/demo",
      small_model: "scripted/demo",
      permission: { "*": "allow", question: "deny", plan_enter: "deny", plan_exit: "deny" },
      enabled_providers: ["scripted", "anthropic"],
      provider: {
        scripted: {
          npm: "@ai-sdk/openai-compatible",
          name: "scripted",
          options: { baseURL: "http://127.0.0.1:8789/v1", apiKey: "k" },
          models: {
            slow: { name: "slow", tool_call: true, limit: { context: 128_000, output: 16_384 } },
            demo: { name: "demo", tool_call: true, limit: { context: 128_000, output: 16_384 } },
          },
        },
        anthropic: { npm: "@ai-sdk/anthropic", name: "anthropic", options: { apiKey: "sk-ant" }, models: { "claude-sonnet-4-5": {} } },
      },
    });
  });

  it("adds the bridge's MCP server when given one", () => {
    const lookout = {
      type: "remote",
      url: "http://127.0.0.1:4000/mcp",
      enabled: true,
      oauth: false,
      headers: { authorization: "Bearer t" },
    } as const;
    expect(buildOpencodeConfig({ model: "scripted/demo", modelProviders: [], mcp: { lookout } }).mcp).toEqual({ lookout });
    expect(buildOpencodeConfig({ model: "scripted/demo", modelProviders: [] }).mcp).toBeUndefined();
  });

  it("leaves providers to OpenCode's defaults when Lookout lists none", () => {
    const config = buildOpencodeConfig({ model: "anthropic/claude-sonnet-4-5", modelProviders: [] });
    expect(config.provider).toBeUndefined();
    expect(config.enabled_providers).toBeUndefined();
  });
  it("makes edits and commands ask the bridge while the work tree syncs, keeping the rest allowed", () => {
    const config = buildOpencodeConfig({ model: "scripted/demo", modelProviders: [], holdWrites: true });
    expect(config.permission).toEqual({ "*": "allow", question: "deny", plan_enter: "deny", plan_exit: "deny", edit: "ask", bash: "ask" });
    expect(buildOpencodeConfig({ model: "scripted/demo", modelProviders: [] }).permission).not.toHaveProperty("edit");
  });
});
