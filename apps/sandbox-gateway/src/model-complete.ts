import {
  LookoutError,
  MAX_COMPLETION_ANSWER_CHARS,
  ModelCompleteRequest,
  type ModelCompleteResponse,
  summarizeIssues,
} from "@lookout/protocol";
import { describeError, type Logger } from "@lookout/sandbox";
import { Hono } from "hono";
import { z } from "zod";
import type { ModelSettings } from "./config";
import { type GatewayEnv, jsonResponse } from "./http";
import { proxyTargets, SCRIPTED_DEMO_MODEL, SCRIPTED_PROVIDER, type ProxyTarget } from "./model-providers";

/** How long the gateway waits for the provider's whole answer before it gives up with `MODEL_TIMEOUT`. */
export const MODEL_COMPLETE_TIMEOUT_MS = 20_000;
/** The Messages API version the gateway speaks to Anthropic. */
const ANTHROPIC_VERSION = "2023-06-01";

export interface ModelCompleteContext {
  readonly models: ModelSettings;
  readonly logger: Logger;
  /** Overrides `MODEL_COMPLETE_TIMEOUT_MS` (tests). */
  readonly timeoutMs?: number;
}

/**
 * `POST /v1/model/complete` (mounted under `/v1`, behind the service signature): one short,
 * non-streamed completion for the control plane, which holds no model key. The gateway picks the
 * model (`smallModel`) and calls its provider with the key it keeps.
 */
export function modelCompleteRoutes(context: () => ModelCompleteContext): Hono<GatewayEnv> {
  return new Hono<GatewayEnv>().post("/complete", async (c) => {
    const request = parseRequest(c.var.body);
    // A caller that stops waiting (the classifier keeps to its own budget) ends the provider call too.
    const hangUp = new AbortController();
    c.env.outgoing.once("close", () => hangUp.abort());
    return jsonResponse(200, await complete(request, context(), hangUp.signal));
  });
}

/** The model a completion uses, with the provider that serves it. */
export interface ChosenModel {
  readonly target: ProxyTarget;
  /** The model's name at its provider (no `provider/` prefix). */
  readonly name: string;
  /** OpenAI's own API and Anthropic's differ from the OpenAI-compatible chat completions others speak. */
  readonly api: "anthropic" | "openai" | "openai-compatible";
}

/**
 * `LOOKOUT_SMALL_MODEL` when it is set (its provider must be configured); otherwise a small model of
 * the first configured provider: Anthropic's haiku, OpenAI's mini, the OpenAI-compatible
 * endpoint's first listed model, the offline model. Throws `MODEL_NOT_CONFIGURED` when none is.
 */
export function smallModel(models: ModelSettings): ChosenModel {
  const targets = proxyTargets(models);
  const apiOf = (providerId: string): ChosenModel["api"] =>
    providerId === "anthropic" ? "anthropic" : providerId === "openai" ? "openai" : "openai-compatible";
  if (models.smallModel) {
    const slash = models.smallModel.indexOf("/");
    const providerId = models.smallModel.slice(0, slash);
    const target = targets.get(providerId);
    if (!target) {
      throw new LookoutError(
        "MODEL_NOT_CONFIGURED",
        `LOOKOUT_SMALL_MODEL is ${models.smallModel}, but the gateway has no provider "${providerId}"; configure it or change LOOKOUT_SMALL_MODEL.`,
      );
    }
    return { target, name: models.smallModel.slice(slash + 1), api: apiOf(providerId) };
  }
  const prefer = (list: readonly string[], word: string) => list.find((model) => model.includes(word)) ?? list[0];
  const anthropic = targets.get("anthropic");
  const anthropicModel = models.anthropic && prefer(models.anthropic.models, "haiku");
  if (anthropic && anthropicModel) return { target: anthropic, name: anthropicModel, api: "anthropic" };
  const openai = targets.get("openai");
  const openaiModel = models.openai && prefer(models.openai.models, "mini");
  if (openai && openaiModel) return { target: openai, name: openaiModel, api: "openai" };
  const compatible = models.openaiCompatible && targets.get(models.openaiCompatible.id);
  const compatibleModel = models.openaiCompatible?.models[0];
  if (compatible && compatibleModel) return { target: compatible, name: compatibleModel, api: "openai-compatible" };
  const scripted = targets.get(SCRIPTED_PROVIDER);
  if (scripted) return { target: scripted, name: SCRIPTED_DEMO_MODEL, api: "openai-compatible" };
  throw new LookoutError("MODEL_NOT_CONFIGURED");
}

/**
 * Asks the small model once and returns its text; every failure is a registry error. `hangUp`
 * aborts the provider call when the caller has gone.
 */
export async function complete(
  request: ModelCompleteRequest,
  context: ModelCompleteContext,
  hangUp?: AbortSignal,
): Promise<ModelCompleteResponse> {
  const model = smallModel(context.models);
  const timeoutMs = context.timeoutMs ?? MODEL_COMPLETE_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const call = model.api === "anthropic" ? anthropicCall(model, request) : chatCompletionsCall(model, request);
  let response: Response;
  let data: unknown;
  try {
    response = await fetch(call.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...call.headers },
      body: JSON.stringify(call.body),
      signal: hangUp ? AbortSignal.any([timeout, hangUp]) : timeout,
    });
    data = await response.json().catch(() => null);
  } catch (error) {
    if (timeout.aborted) {
      throw new LookoutError("MODEL_TIMEOUT", `The model ${model.target.id}/${model.name} did not answer within ${timeoutMs} ms.`);
    }
    if (hangUp?.aborted) throw new LookoutError("MODEL_TIMEOUT", "The caller stopped waiting for the model.");
    context.logger.warn("model completion failed", { provider: model.target.id, error: describeError(error) });
    throw new LookoutError("MODEL_API_ERROR", `The model API of ${model.target.id} could not be reached.`);
  }
  const modelRef = `${model.target.id}/${model.name}`;
  if (response.status === 401 || response.status === 403) {
    throw new LookoutError("MODEL_AUTH_FAILED", `The model provider ${model.target.id} refused the gateway's key (${response.status}).`);
  }
  if (!response.ok) {
    throw new LookoutError("MODEL_API_ERROR", `The model provider ${model.target.id} answered ${response.status}.`, {
      status: response.status,
    });
  }
  const text = call.textOf(data);
  if (text === null) throw new LookoutError("MODEL_OUTPUT_INVALID", `The answer of ${modelRef} carried no text.`);
  return { text: text.slice(0, MAX_COMPLETION_ANSWER_CHARS), model: modelRef };
}

interface ProviderCall {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
  textOf(data: unknown): string | null;
}

const ChatCompletion = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullish() }) })).min(1),
});

/** OpenAI's chat completions, which the OpenAI-compatible endpoints and the offline model speak too. */
function chatCompletionsCall(model: ChosenModel, request: ModelCompleteRequest): ProviderCall {
  return {
    url: `${model.target.upstreamBaseUrl.replace(/\/+$/, "")}/chat/completions`,
    headers: model.target.apiKey === undefined ? {} : { authorization: `Bearer ${model.target.apiKey}` },
    body: {
      model: model.name,
      messages: [
        { role: "system", content: request.system },
        { role: "user", content: request.user },
      ],
      stream: false,
      // OpenAI's own API takes the newer name (its reasoning models refuse `max_tokens`); other
      // servers know the original one.
      ...(model.api === "openai" ? { max_completion_tokens: request.maxTokens } : { max_tokens: request.maxTokens }),
    },
    textOf: (data) => {
      const parsed = ChatCompletion.safeParse(data);
      return parsed.success ? (parsed.data.choices[0]?.message.content ?? null) : null;
    },
  };
}

const AnthropicMessage = z.object({ content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })) });

/** Anthropic's Messages API. */
function anthropicCall(model: ChosenModel, request: ModelCompleteRequest): ProviderCall {
  return {
    url: `${model.target.upstreamBaseUrl.replace(/\/+$/, "")}/messages`,
    headers: { "anthropic-version": ANTHROPIC_VERSION, ...(model.target.apiKey === undefined ? {} : { "x-api-key": model.target.apiKey }) },
    body: { model: model.name, max_tokens: request.maxTokens, system: request.system, messages: [{ role: "user", content: request.user }] },
    textOf: (data) => {
      const parsed = AnthropicMessage.safeParse(data);
      if (!parsed.success) return null;
      const texts = parsed.data.content.flatMap((block) => (block.type === "text" && block.text !== undefined ? [block.text] : []));
      return texts.length > 0 ? texts.join("") : null;
    },
  };
}

function parseRequest(body: Uint8Array): ModelCompleteRequest {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new LookoutError("INVALID_JSON");
  }
  const parsed = ModelCompleteRequest.safeParse(data);
  if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", summarizeIssues(parsed.error));
  return parsed.data;
}
