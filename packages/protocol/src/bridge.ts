import { z } from "zod";
import { Author, CommitSha, Id, ModelRef, ReasoningEffort, Seq } from "./common.ts";
import { ErrorCode } from "./errors.ts";
import {
  AgentErrorEvent,
  ArtifactEvent,
  FilesChangedEvent,
  GitCommitEvent,
  GitPushEvent,
  MessageTextEvent,
  PromptFinishedEvent,
  SandboxSyncEvent,
  StepFinishedEvent,
  ToolCallEvent,
} from "./events.ts";

/**
 * The bridge ⇄ session protocol. The bridge authenticates at upgrade time with its per-sandbox
 * token. Each event carries a bridge-side sequence (`bseq`, per sandbox, strictly increasing); the
 * session stores an event once and acknowledges it, so re-sends after a reconnect are ignored.
 */

/** Events the bridge may emit: the stored payloads that describe the agent's work. */
export const BridgeEventPayload = z.discriminatedUnion("type", [
  PromptFinishedEvent,
  MessageTextEvent,
  ToolCallEvent,
  StepFinishedEvent,
  FilesChangedEvent,
  GitCommitEvent,
  ArtifactEvent,
  AgentErrorEvent,
  GitPushEvent,
  SandboxSyncEvent,
  /** The bridge holds back a push that changes protected paths until a participant decides. */
  z.object({
    type: z.literal("push.approval.requested"),
    approvalId: Id,
    branch: z.string().min(1).max(250),
    headSha: CommitSha,
    files: z.array(z.string().max(4096)).min(1).max(1000),
  }),
  z.object({ type: z.literal("bridge.ready"), opencodeVersion: z.string().max(100).optional() }),
]);
export type BridgeEventPayload = z.infer<typeof BridgeEventPayload>;

/** Event types the bridge re-sends until acknowledged. */
export const CRITICAL_BRIDGE_EVENTS = new Set<BridgeEventPayload["type"]>([
  "prompt.finished",
  "agent.error",
  "git.commit",
  "artifact",
  "git.push",
  "push.approval.requested",
]);

export const BridgeMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("bridge.event"), bseq: z.number().int().positive(), event: BridgeEventPayload }),
  z.object({ type: z.literal("bridge.heartbeat"), at: z.number() }),
]);
export type BridgeMessage = z.infer<typeof BridgeMessage>;

export const GitIdentity = z.object({ name: z.string().min(1).max(200), email: z.string().min(3).max(320) });
export type GitIdentity = z.infer<typeof GitIdentity>;

/** Commands the session sends to the bridge. */
export const SessionCommand = z.discriminatedUnion("type", [
  /** Sent on connect: the highest `bseq` already stored, so the bridge can drop what it buffered. */
  z.object({ type: z.literal("bridge.welcome"), lastBseq: Seq }),
  z.object({ type: z.literal("bridge.ack"), bseq: z.number().int().positive() }),
  z.object({
    type: z.literal("command.prompt"),
    promptId: Id,
    text: z.string(),
    author: Author,
    gitAuthor: GitIdentity,
    model: ModelRef,
    reasoningEffort: ReasoningEffort.optional(),
  }),
  z.object({ type: z.literal("command.stop"), promptId: Id }),
  /** A participant decided on a held-back push; on `approve` the bridge pushes `headSha`. */
  z.object({
    type: z.literal("command.push.decided"),
    approvalId: Id,
    headSha: CommitSha,
    decision: z.enum(["approve", "reject"]),
  }),
  z.object({ type: z.literal("error"), code: ErrorCode, message: z.string() }),
]);
export type SessionCommand = z.infer<typeof SessionCommand>;
