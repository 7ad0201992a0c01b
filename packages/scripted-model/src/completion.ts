import { randomBytes } from "node:crypto";
import type { ChatCompletion, ChatCompletionChunk, ChunkDelta, CompletionUsage, FinishReason } from "./openai";
import type { PlannedTurn } from "./script";

/** Characters per text chunk when a step does not say. */
export const DEFAULT_CHUNK_CHARS = 12;
/** Characters per tool-argument chunk: small enough that every call's arguments span several chunks. */
export const ARGUMENT_CHUNK_CHARS = 24;
/** A rough characters-per-token ratio for estimated usage. */
const CHARS_PER_TOKEN = 4;

/** One model answer, resolved from a script turn and ready to serialise. */
export interface Answer {
  id: string;
  model: string;
  created: number;
  reasoning: string;
  text: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: FinishReason;
  usage: CompletionUsage;
  delayMs: number;
  chunkChars: number;
}

export interface AnswerContext {
  model: string;
  /** Characters of the whole request's messages, to estimate prompt tokens. */
  promptChars: number;
  /** Whether the request offered tools; without them tool calls are not played. */
  toolsOffered: boolean;
  now?: () => number;
  randomId?: () => string;
}

const defaultRandomId = (): string => randomBytes(9).toString("base64url");

export function answerFor(turn: PlannedTurn, ctx: AnswerContext): Answer {
  const randomId = ctx.randomId ?? defaultRandomId;
  const created = Math.floor((ctx.now ?? Date.now)() / 1000);
  const step = turn.kind === "step" ? turn.step : undefined;
  // A request without tools (e.g. an agent's title or summary call) cannot take tool calls.
  const toolCalls = ctx.toolsOffered
    ? (step?.toolCalls ?? []).map((call) => ({ id: `call_${randomId()}`, name: call.name, arguments: JSON.stringify(call.arguments) }))
    : [];
  const text = turn.kind === "final" ? turn.text : (step?.text ?? (toolCalls.length === 0 ? "Done." : ""));
  const reasoning = step?.reasoning ?? "";
  const estimatedCompletion = Math.ceil(
    (text.length + reasoning.length + toolCalls.reduce((n, c) => n + c.arguments.length, 0)) / CHARS_PER_TOKEN,
  );
  const promptTokens = step?.usage?.promptTokens ?? Math.ceil(ctx.promptChars / CHARS_PER_TOKEN);
  const completionTokens = step?.usage?.completionTokens ?? Math.max(1, estimatedCompletion);
  const reasoningTokens = step?.usage?.reasoningTokens ?? Math.ceil(reasoning.length / CHARS_PER_TOKEN);
  return {
    id: `chatcmpl-${randomId()}`,
    model: ctx.model,
    created,
    reasoning,
    text,
    toolCalls,
    finishReason: toolCalls.length > 0 ? "tool_calls" : "stop",
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      ...(reasoningTokens > 0 ? { completion_tokens_details: { reasoning_tokens: reasoningTokens } } : {}),
    },
    delayMs: step?.delayMs ?? 0,
    chunkChars: step?.chunkChars ?? DEFAULT_CHUNK_CHARS,
  };
}

/**
 * Splits text into chunks of about `size` characters, breaking after whitespace so words stay
 * whole (a single long word becomes its own chunk). Joining the chunks gives the text back.
 */
export function chunkText(text: string, size: number): string[] {
  const words = text.match(/\S+\s*|\s+/g) ?? [];
  const chunks: string[] = [];
  let current = "";
  for (const word of words) {
    if (current.length > 0 && current.length + word.length > size) {
      chunks.push(current);
      current = "";
    }
    current += word;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Splits a string into fixed-size slices (tool arguments are JSON, so no word boundaries). */
export function sliceString(value: string, size: number): string[] {
  const slices: string[] = [];
  for (let i = 0; i < value.length; i += size) slices.push(value.slice(i, i + size));
  return slices.length > 0 ? slices : [""];
}

/**
 * The chunks of a streamed answer, in OpenAI's order: the role, reasoning deltas, content deltas,
 * each tool call (id and name first, then its arguments in slices), the finish reason, and, when
 * asked for with `stream_options.include_usage`, a final chunk with no choices and the usage.
 */
export function streamChunks(answer: Answer, includeUsage: boolean): ChatCompletionChunk[] {
  const chunk = (delta: ChunkDelta, finishReason: FinishReason | null = null): ChatCompletionChunk => ({
    id: answer.id,
    object: "chat.completion.chunk",
    created: answer.created,
    model: answer.model,
    system_fingerprint: "lookout-scripted",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const chunks: ChatCompletionChunk[] = [chunk({ role: "assistant", content: "" })];
  for (const piece of chunkText(answer.reasoning, answer.chunkChars)) chunks.push(chunk({ reasoning_content: piece }));
  for (const piece of chunkText(answer.text, answer.chunkChars)) chunks.push(chunk({ content: piece }));
  answer.toolCalls.forEach((call, index) => {
    chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] }));
    for (const slice of sliceString(call.arguments, ARGUMENT_CHUNK_CHARS)) {
      chunks.push(chunk({ tool_calls: [{ index, function: { arguments: slice } }] }));
    }
  });
  chunks.push(chunk({}, answer.finishReason));
  if (includeUsage) {
    chunks.push({
      id: answer.id,
      object: "chat.completion.chunk",
      created: answer.created,
      model: answer.model,
      system_fingerprint: "lookout-scripted",
      choices: [],
      usage: answer.usage,
    });
  }
  return chunks;
}

export function completionOf(answer: Answer): ChatCompletion {
  return {
    id: answer.id,
    object: "chat.completion",
    created: answer.created,
    model: answer.model,
    system_fingerprint: "lookout-scripted",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: answer.text.length > 0 ? answer.text : null,
          ...(answer.reasoning ? { reasoning_content: answer.reasoning } : {}),
          refusal: null,
          ...(answer.toolCalls.length > 0
            ? {
                tool_calls: answer.toolCalls.map((call) => ({
                  id: call.id,
                  type: "function" as const,
                  function: { name: call.name, arguments: call.arguments },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: answer.finishReason,
      },
    ],
    usage: answer.usage,
  };
}
