import { z } from "zod";

/**
 * The slice of OpenCode's server-sent events the bridge reads (opencode 1.18, SDK v2 types
 * `EventMessagePartUpdated`, `EventMessagePartDelta`, …). OpenCode is a separate process, so its
 * events are validated like any other input; unknown events and part types are ignored.
 */

const Time = z.object({ start: z.number().optional(), end: z.number().optional() });

const ToolInput = z.record(z.string(), z.unknown());

export const ToolState = z.discriminatedUnion("status", [
  z.object({ status: z.literal("pending"), input: ToolInput.optional() }),
  z.object({ status: z.literal("running"), input: ToolInput.optional(), title: z.string().optional(), time: Time.optional() }),
  z.object({
    status: z.literal("completed"),
    input: ToolInput.optional(),
    output: z.string(),
    title: z.string().optional(),
    time: Time.optional(),
  }),
  z.object({ status: z.literal("error"), input: ToolInput.optional(), error: z.string(), time: Time.optional() }),
]);
export type ToolState = z.infer<typeof ToolState>;

const PartBase = { id: z.string().min(1), sessionID: z.string(), messageID: z.string() };

export const TextPart = z.object({
  ...PartBase,
  type: z.enum(["text", "reasoning"]),
  text: z.string(),
  synthetic: z.boolean().optional(),
  time: Time.optional(),
});
export type TextPart = z.infer<typeof TextPart>;

export const ToolPart = z.object({
  ...PartBase,
  type: z.literal("tool"),
  callID: z.string().optional(),
  tool: z.string().min(1),
  state: ToolState,
});
export type ToolPart = z.infer<typeof ToolPart>;

export const StepFinishPart = z.object({
  ...PartBase,
  type: z.literal("step-finish"),
  cost: z.number().optional(),
  tokens: z
    .object({
      input: z.number().optional(),
      output: z.number().optional(),
      reasoning: z.number().optional(),
      cache: z.object({ read: z.number().optional(), write: z.number().optional() }).optional(),
    })
    .optional(),
});
export type StepFinishPart = z.infer<typeof StepFinishPart>;

export const KnownPart = z.discriminatedUnion("type", [TextPart, ToolPart, StepFinishPart]);
export type KnownPart = z.infer<typeof KnownPart>;

/** Any part: its type decides whether the bridge reads it. */
export const AnyPart = z.looseObject({ type: z.string(), id: z.string(), sessionID: z.string(), messageID: z.string() });

export const OpencodeError = z.looseObject({
  name: z.string(),
  data: z.looseObject({ message: z.string().optional() }).optional(),
});
export type OpencodeError = z.infer<typeof OpencodeError>;

export const OpencodeEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("message.updated"),
    properties: z.object({ info: z.looseObject({ id: z.string(), sessionID: z.string(), role: z.enum(["user", "assistant"]) }) }),
  }),
  z.object({ type: z.literal("message.part.updated"), properties: z.object({ part: AnyPart }) }),
  z.object({
    type: z.literal("message.part.delta"),
    properties: z.object({ sessionID: z.string(), messageID: z.string(), partID: z.string(), field: z.string(), delta: z.string() }),
  }),
  z.object({
    type: z.literal("session.status"),
    properties: z.object({ sessionID: z.string(), status: z.looseObject({ type: z.string() }) }),
  }),
  z.object({ type: z.literal("session.idle"), properties: z.object({ sessionID: z.string() }) }),
  z.object({
    type: z.literal("session.error"),
    properties: z.object({ sessionID: z.string().optional(), error: OpencodeError.optional() }),
  }),
]);
export type OpencodeEvent = z.infer<typeof OpencodeEvent>;

const HANDLED_TYPES: ReadonlySet<string> = new Set(OpencodeEvent.options.map((option) => option.shape.type.value));

export type ParsedEvent =
  { ok: true; event: OpencodeEvent } | { ok: false; reason: "ignored" } | { ok: false; reason: "invalid"; detail: string };

/** Parses one OpenCode event; types the bridge does not read are `ignored`, malformed ones `invalid`. */
export function parseOpencodeEvent(raw: unknown): ParsedEvent {
  const type = z.object({ type: z.string() }).safeParse(raw);
  if (!type.success || !HANDLED_TYPES.has(type.data.type)) return { ok: false, reason: "ignored" };
  const parsed = OpencodeEvent.safeParse(raw);
  if (!parsed.success)
    return { ok: false, reason: "invalid", detail: `${type.data.type}: ${parsed.error.issues[0]?.message ?? "malformed"}` };
  return { ok: true, event: parsed.data };
}

/** A message with its parts, as `GET /session/:id/message` returns it. */
export const MessageWithParts = z.object({
  info: z.looseObject({
    id: z.string(),
    sessionID: z.string(),
    role: z.enum(["user", "assistant"]),
    time: z.looseObject({ created: z.number().optional(), completed: z.number().optional() }).optional(),
  }),
  parts: z.array(AnyPart),
});
export type MessageWithParts = z.infer<typeof MessageWithParts>;

/**
 * Whether OpenCode has finalised every assistant message answering the latest user message.
 * OpenCode reports a session idle slightly before its run loop has finished (an errored run
 * goes idle, then finalises its message); a prompt sent in that window is stored but never
 * answered, so the bridge waits for this before sending the next prompt.
 */
export function isRunFinalised(messages: readonly MessageWithParts[]): boolean {
  const lastUser = messages.map((m) => m.info.role).lastIndexOf("user");
  return messages.slice(lastUser + 1).every((m) => m.info.role !== "assistant" || m.info.time?.completed !== undefined);
}
