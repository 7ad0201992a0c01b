import { SANDBOX_TOKEN_API_KEY, type ModelProviderConfig } from "@lookout/protocol";
import type { Logger } from "@lookout/sandbox";
import { describeError } from "@lookout/sandbox";
import { z } from "zod";
import type { ModelSettings } from "./config";

/** The model every scripted-model server plays. */
export const SCRIPTED_DEMO_MODEL = "demo";
/** The offline model's provider id in OpenCode and in the proxy's paths. */
export const SCRIPTED_PROVIDER = "scripted";
const MODEL_LIST_TIMEOUT_MS = 2_000;

/** How the model proxy reaches one upstream API with the gateway's real key. */
export interface ProxyTarget {
  readonly id: string;
  readonly upstreamBaseUrl: string;
  /** Absent for an upstream that takes no key (a local Ollama). */
  readonly apiKey: string | undefined;
  /** Anthropic takes the key in `x-api-key`; OpenAI-style APIs take a bearer token. */
  readonly auth: "x-api-key" | "bearer";
}

/** Every provider whose key stays with the gateway, by provider id. */
export function proxyTargets(models: ModelSettings): Map<string, ProxyTarget> {
  const targets = new Map<string, ProxyTarget>();
  // Every provider goes through the proxy, keyed or not: sandboxes reach nothing on the host but
  // their relay, and the offline model answers only the gateway (which holds its token).
  if (models.scriptedUrl) {
    targets.set(SCRIPTED_PROVIDER, {
      id: SCRIPTED_PROVIDER,
      upstreamBaseUrl: models.scriptedUrl,
      apiKey: models.scriptedToken,
      auth: "bearer",
    });
  }
  if (models.anthropic) {
    targets.set("anthropic", {
      id: "anthropic",
      upstreamBaseUrl: models.anthropic.baseUrl,
      apiKey: models.anthropic.apiKey,
      auth: "x-api-key",
    });
  }
  if (models.openai) {
    targets.set("openai", { id: "openai", upstreamBaseUrl: models.openai.baseUrl, apiKey: models.openai.apiKey, auth: "bearer" });
  }
  const compatible = models.openaiCompatible;
  if (compatible) {
    targets.set(compatible.id, { id: compatible.id, upstreamBaseUrl: compatible.baseUrl, apiKey: compatible.apiKey, auth: "bearer" });
  }
  return targets;
}

const ModelList = z.object({ data: z.array(z.object({ id: z.string().min(1).max(200) })) });

/** The models an OpenAI-compatible server lists at `GET <baseUrl>/models`; empty if it cannot say. */
export async function listModels(baseUrl: string, logger: Logger, apiKey?: string): Promise<string[]> {
  try {
    const response = await fetch(`${baseUrl.replace(/\/+$/, "")}/models`, {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(MODEL_LIST_TIMEOUT_MS),
    });
    if (!response.ok) return [];
    const parsed = ModelList.safeParse(await response.json());
    return parsed.success ? parsed.data.data.map((model) => model.id) : [];
  } catch (error) {
    logger.warn("could not list models", { baseUrl, error: describeError(error) });
    return [];
  }
}

export interface SandboxModelContext {
  /** The model proxy's base URL as sandboxes reach it (`<gateway>/model-proxy`). */
  readonly proxyBaseUrl: string;
  /** The session's model (`provider/model`); added to its provider's list if missing. */
  readonly requestedModel: string;
  readonly logger: Logger;
}

/**
 * `LOOKOUT_MODEL_PROVIDERS` for one sandbox. Providers with a key get the model proxy as their
 * base URL and the sandbox's own token as their key, so no long-lived key enters a sandbox.
 */
export async function sandboxModelProviders(models: ModelSettings, context: SandboxModelContext): Promise<ModelProviderConfig[]> {
  const providers: ModelProviderConfig[] = [];
  // The key is a placeholder: the bridge's model relay swaps in the sandbox token, so OpenCode (the
  // agent) never holds it, and the proxy swaps that for the real key.
  const viaProxy = (id: string) => ({ baseUrl: `${context.proxyBaseUrl}/${id}`, apiKey: SANDBOX_TOKEN_API_KEY });
  const slash = context.requestedModel.indexOf("/");
  const requestedProvider = context.requestedModel.slice(0, slash);
  const requestedName = context.requestedModel.slice(slash + 1);
  // The session's own model is always offered by its provider, even if no list names it.
  const withRequested = (id: string, listed: readonly string[]) =>
    unique(id === requestedProvider ? [...listed, requestedName] : [...listed]);

  if (models.scriptedUrl) {
    const listed = await listModels(models.scriptedUrl, context.logger, models.scriptedToken);
    providers.push({
      id: SCRIPTED_PROVIDER,
      kind: "openai-compatible",
      ...viaProxy(SCRIPTED_PROVIDER),
      models: withRequested(SCRIPTED_PROVIDER, [SCRIPTED_DEMO_MODEL, ...listed]),
    });
  }
  if (models.anthropic) {
    providers.push({
      id: "anthropic",
      kind: "anthropic",
      ...viaProxy("anthropic"),
      models: withRequested("anthropic", models.anthropic.models),
    });
  }
  if (models.openai) {
    providers.push({ id: "openai", kind: "openai", ...viaProxy("openai"), models: withRequested("openai", models.openai.models) });
  }
  const compatible = models.openaiCompatible;
  if (compatible) {
    const listed =
      compatible.models.length > 0 ? compatible.models : await listModels(compatible.baseUrl, context.logger, compatible.apiKey);
    const offered = withRequested(compatible.id, listed);
    if (offered.length > 0) providers.push({ id: compatible.id, kind: "openai-compatible", ...viaProxy(compatible.id), models: offered });
  }
  return providers;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
