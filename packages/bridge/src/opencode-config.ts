import type { ModelProviderConfig } from "@lookout/protocol";
import type { Config, McpRemoteConfig, ProviderConfig } from "@opencode-ai/sdk/v2/client";
import { splitModelRef } from "./config";
import { SYNC_GATED_PERMISSION } from "./sync-gate";

/** The AI SDK package OpenCode loads for each provider kind (all are bundled in the opencode binary). */
const NPM_BY_KIND: Record<ModelProviderConfig["kind"], string> = {
  anthropic: "@ai-sdk/anthropic",
  openai: "@ai-sdk/openai",
  "openai-compatible": "@ai-sdk/openai-compatible",
};

/**
 * Token limits declared for OpenAI-compatible models, which have no catalog entry; without a
 * limit OpenCode cannot budget context or output.
 */
export const COMPATIBLE_MODEL_LIMIT = { context: 128_000, output: 16_384 } as const;

/**
 * Permissions for an unattended agent: everything is allowed (no one is there to approve), except
 * the tools that wait for a human answer, which would hang the run.
 */
export const AGENT_PERMISSION = {
  "*": "allow",
  question: "deny",
  plan_enter: "deny",
  plan_exit: "deny",
} as const;

export interface OpencodeConfigInput {
  model: string;
  modelProviders: readonly ModelProviderConfig[];
  /** MCP servers the bridge serves on loopback (the `create_pull_request` tool). */
  mcp?: Record<string, McpRemoteConfig>;
  /** The work tree is still syncing: writes and commands ask the bridge first (`sync-gate.ts`). */
  holdWrites?: boolean;
}

/**
 * The OpenCode configuration the bridge passes in `OPENCODE_CONFIG_CONTENT`. Providers come only
 * from Lookout's list (no environment auto-detection), updates and sharing are off.
 */
export function buildOpencodeConfig(input: OpencodeConfigInput): Config {
  const sessionModel = splitModelRef(input.model);
  const provider: Record<string, ProviderConfig> = {};
  for (const entry of input.modelProviders) {
    const modelIds = new Set(entry.models);
    if (entry.id === sessionModel.providerID) modelIds.add(sessionModel.modelID);
    provider[entry.id] = {
      npm: NPM_BY_KIND[entry.kind],
      name: entry.id,
      options: {
        ...(entry.baseUrl ? { baseURL: entry.baseUrl } : {}),
        ...(entry.apiKey ? { apiKey: entry.apiKey } : {}),
      },
      // Catalog providers keep their catalog metadata; entries here only make the models known.
      models: Object.fromEntries(
        [...modelIds].map((id) => [
          id,
          entry.kind === "openai-compatible" ? { name: id, tool_call: true, limit: { ...COMPATIBLE_MODEL_LIMIT } } : {},
        ]),
      ),
    };
  }
  return {
    $schema: "https://opencode.ai/config.json",
    autoupdate: false,
    share: "disabled",
    // The bridge measures the agent's changes with git itself; OpenCode's own snapshot repository
    // (undo for its TUI) would only cost a `git add` of the work tree at every step.
    snapshot: false,
    model: input.model,
    small_model: input.model,
    permission: { ...AGENT_PERMISSION, ...(input.holdWrites ? SYNC_GATED_PERMISSION : {}) },
    ...(input.mcp && Object.keys(input.mcp).length > 0 ? { mcp: { ...input.mcp } } : {}),
    ...(input.modelProviders.length > 0 ? { enabled_providers: input.modelProviders.map((p) => p.id), provider } : {}),
  };
}
