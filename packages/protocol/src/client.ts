import { z } from "zod";
import {
  Author,
  Id,
  MAX_PROMPT_CHARS,
  ModelRef,
  ParticipantRole,
  PromptStatus,
  ReasoningEffort,
  RequestId,
  SandboxStatus,
  Seq,
  SessionStatus,
} from "./common.ts";
import { ErrorCode } from "./errors.ts";
import { SessionEvent } from "./events.ts";
import { SessionOrigin } from "./origin.ts";

/** Frames a client (browser, bot) sends on the session socket. */
export const ClientMessage = z.discriminatedUnion("type", [
  /** Start receiving events after `afterSeq` (0 for everything), then the live stream. */
  z.object({ type: z.literal("subscribe"), afterSeq: Seq.default(0) }),
  z.object({
    type: z.literal("prompt.send"),
    requestId: RequestId,
    text: z.string().trim().min(1).max(MAX_PROMPT_CHARS),
    model: ModelRef.optional(),
    reasoningEffort: ReasoningEffort.optional(),
  }),
  z.object({ type: z.literal("prompt.cancel"), promptId: Id }),
  z.object({ type: z.literal("session.stop") }),
  /** Approve or reject a held-back push (see the `push.approval` event). */
  z.object({ type: z.literal("push.decide"), approvalId: Id, decision: z.enum(["approve", "reject"]) }),
  z.object({ type: z.literal("typing"), typing: z.boolean() }),
  z.object({ type: z.literal("presence"), status: z.enum(["active", "idle"]) }),
  z.object({ type: z.literal("ping") }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const PresenceEntry = z.object({
  participant: Author,
  role: ParticipantRole,
  status: z.enum(["active", "idle"]),
  typing: z.boolean(),
  connections: z.number().int().positive(),
});
export type PresenceEntry = z.infer<typeof PresenceEntry>;

export const QueuedPrompt = z.object({
  promptId: Id,
  requestId: RequestId.nullable(),
  author: Author,
  text: z.string(),
  model: ModelRef,
  reasoningEffort: ReasoningEffort.nullable(),
  status: PromptStatus,
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
});
export type QueuedPrompt = z.infer<typeof QueuedPrompt>;

export const SessionState = z.object({
  id: Id,
  title: z.string(),
  repositoryId: Id,
  /** `owner/name` for GitHub, the registered name for local repositories. */
  repositoryName: z.string(),
  baseBranch: z.string(),
  branch: z.string(),
  model: ModelRef,
  reasoningEffort: ReasoningEffort.nullable(),
  status: SessionStatus,
  archived: z.boolean(),
  owner: Author,
  parentSessionId: Id.nullable(),
  /** Where the session's work came from, and where its results are reported. */
  origin: SessionOrigin,
  sandboxStatus: SandboxStatus,
  costUsd: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type SessionState = z.infer<typeof SessionState>;

/** Frames the session sends to a client. */
export const ServerMessage = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("hello"),
    connectionId: z.string(),
    participant: Author,
    /** What this connection may do: viewers watch, members and owners also steer. */
    role: ParticipantRole,
    session: SessionState,
    latestSeq: Seq,
  }),
  /** A batch of events in sequence order; `replay` marks events the client missed. */
  z.object({ type: z.literal("events"), events: z.array(SessionEvent), replay: z.boolean() }),
  /** Replay is complete: every later event arrives live. */
  z.object({ type: z.literal("subscribed"), latestSeq: Seq }),
  z.object({ type: z.literal("presence"), entries: z.array(PresenceEntry) }),
  z.object({ type: z.literal("queue"), prompts: z.array(QueuedPrompt) }),
  z.object({ type: z.literal("session"), session: SessionState }),
  z.object({ type: z.literal("prompt.accepted"), requestId: RequestId, promptId: Id, duplicate: z.boolean() }),
  z.object({
    type: z.literal("error"),
    code: ErrorCode,
    message: z.string(),
    requestId: RequestId.optional(),
  }),
  z.object({ type: z.literal("pong") }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
