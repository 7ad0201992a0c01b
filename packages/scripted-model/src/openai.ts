import { z } from "zod";

/**
 * The slice of OpenAI's Chat Completions API this server understands. Unknown fields are kept
 * (loose objects) because real clients send many options the scripts do not care about.
 */

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

const MessageContent = z.union([z.string(), z.array(ContentPart), z.null()]).optional();

const ToolCallRef = z.looseObject({
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.looseObject({ name: z.string(), arguments: z.string().optional() }).optional(),
});

export const ChatMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: MessageContent,
  tool_calls: z.array(ToolCallRef).nullish(),
  tool_call_id: z.string().optional(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

export const ChatCompletionRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(ChatMessage).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(z.looseObject({ type: z.string(), function: z.looseObject({ name: z.string() }).optional() })).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export function textOf(content: ChatMessage["content"]): string {
  if (typeof content === "string") return content;
  if (!content) return "";
  return content
    .filter((part) => part.type === "text" && typeof part.text === "string")
    .map((part) => part.text)
    .join("\n");
}

/** The index of the latest user message, or -1 when there is none. */
function latestUserIndex(messages: readonly ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === "user") return i;
  }
  return -1;
}

export function latestUserText(messages: readonly ChatMessage[]): string {
  const index = latestUserIndex(messages);
  return index < 0 ? "" : textOf(messages[index]?.content);
}

/**
 * Which step of a script to play: the number of assistant turns since the latest user message.
 * An agent calls the model again after running tools, appending the assistant's tool calls and
 * the tool results, so the count advances by one per round trip.
 */
export function stepIndexOf(messages: readonly ChatMessage[]): number {
  const index = latestUserIndex(messages);
  return messages.slice(index + 1).filter((message) => message.role === "assistant").length;
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function openAiError(
  message: string,
  type = "invalid_request_error",
  code: string | null = null,
  param: string | null = null,
): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

export interface ChunkToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

export interface ChunkDelta {
  role?: "assistant";
  content?: string;
  reasoning_content?: string;
  tool_calls?: ChunkToolCallDelta[];
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  completion_tokens_details?: { reasoning_tokens: number };
}

export type FinishReason = "stop" | "tool_calls" | "length";

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{ index: number; delta: ChunkDelta; logprobs: null; finish_reason: FinishReason | null }>;
  usage?: CompletionUsage | null;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: number;
    message: {
      role: "assistant";
      content: string | null;
      reasoning_content?: string;
      refusal: null;
      tool_calls?: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }>;
    };
    logprobs: null;
    finish_reason: FinishReason;
  }>;
  usage: CompletionUsage;
}
