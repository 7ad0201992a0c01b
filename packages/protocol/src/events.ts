import { z } from "zod";
import { ErrorCode, StoredErrorCode } from "./errors.ts";
import { Author, CommitSha, Id, ModelRef, PromptStatus, ReasoningEffort, SandboxStatus, Seq, TokenUsage } from "./common.ts";

/**
 * The payloads of the session's event log. Every stored event has a `type` (dotted lowercase) and
 * a `key`: events with the same key are one evolving row (the streamed text of one message, one
 * tool call, one artifact), so a replay returns each row's latest state once. Keyless events append.
 */
export const ToolCallState = z.enum(["pending", "running", "completed", "error"]);

export const ArtifactKind = z.enum(["pull_request", "screenshot", "branch", "commit", "file"]);

/**
 * How many places in an event from the sandbox the session replaced with `[secret hidden: NAME]`
 * (a secret's value, or text shaped like a credential); absent when none. Set by the session,
 * never taken from the bridge.
 */
export const SecretsHidden = z.number().int().positive().optional();

export const SessionCreatedEvent = z.object({
  type: z.literal("session.created"),
  title: z.string(),
  repositoryId: Id,
  baseBranch: z.string(),
  model: ModelRef,
  reasoningEffort: ReasoningEffort.optional(),
  owner: Author,
});

export const SessionTitleEvent = z.object({ type: z.literal("session.title"), title: z.string(), by: Author.optional() });

export const SessionArchivedEvent = z.object({ type: z.literal("session.archived"), by: Author });

export const SessionUnarchivedEvent = z.object({ type: z.literal("session.unarchived"), by: Author });

export const ParticipantJoinedEvent = z.object({ type: z.literal("participant.joined"), participant: Author, role: z.string() });
/** The owner changed what a participant may do (steer as a member, or only watch as a viewer). */
export const ParticipantRoleEvent = z.object({
  type: z.literal("participant.role"),
  participant: Author,
  role: z.enum(["member", "viewer"]),
  by: Author,
});

export const PromptQueuedEvent = z.object({
  type: z.literal("prompt.queued"),
  promptId: Id,
  author: Author,
  text: z.string(),
  model: ModelRef,
  reasoningEffort: ReasoningEffort.optional(),
});

export const PromptCancelledEvent = z.object({ type: z.literal("prompt.cancelled"), promptId: Id, by: Author });

export const PromptStartedEvent = z.object({ type: z.literal("prompt.started"), promptId: Id });

export const PromptFinishedEvent = z.object({
  type: z.literal("prompt.finished"),
  promptId: Id,
  status: PromptStatus.extract(["completed", "failed", "stopped"]),
  error: z.string().optional(),
});

export const StopRequestedEvent = z.object({ type: z.literal("stop.requested"), promptId: Id, by: Author });

export const MessageTextEvent = z.object({
  type: z.literal("message.text"),
  promptId: Id,
  messageId: z.string().min(1).max(200),
  /** The whole text of the message so far (cumulative, not a delta). */
  text: z.string(),
  role: z.enum(["assistant", "reasoning"]).default("assistant"),
  secretsHidden: SecretsHidden,
});

export const ToolCallEvent = z.object({
  type: z.literal("tool.call"),
  promptId: Id,
  callId: z.string().min(1).max(200),
  tool: z.string().min(1).max(200),
  title: z.string().max(2000).optional(),
  input: z.unknown(),
  state: ToolCallState,
  output: z.string().optional(),
  error: z.string().optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
  secretsHidden: SecretsHidden,
});

export const StepFinishedEvent = z.object({
  type: z.literal("step.finished"),
  promptId: Id,
  tokens: TokenUsage,
  costUsd: z.number().nonnegative(),
});

export const FilesChangedEvent = z.object({
  type: z.literal("files.changed"),
  promptId: Id,
  files: z
    .array(
      z.object({
        path: z.string().min(1).max(4096),
        change: z.enum(["added", "modified", "deleted", "renamed"]),
        additions: z.number().int().nonnegative().optional(),
        deletions: z.number().int().nonnegative().optional(),
      }),
    )
    .max(5000),
  /** Unified diff of the prompt's changes against the session's base, truncated if very large. */
  diff: z.string().optional(),
  secretsHidden: SecretsHidden,
});

export const GitCommitEvent = z.object({
  type: z.literal("git.commit"),
  promptId: Id,
  sha: z.string().regex(/^[0-9a-f]{7,64}$/),
  branch: z.string(),
  message: z.string(),
  author: z.object({ name: z.string(), email: z.string() }),
  secretsHidden: SecretsHidden,
});

export const ArtifactEvent = z.object({
  type: z.literal("artifact"),
  artifactId: Id,
  kind: ArtifactKind,
  title: z.string(),
  url: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  secretsHidden: SecretsHidden,
});

/** The bridge pushed (or failed to push) the session's branch. */
export const GitPushEvent = z.object({
  type: z.literal("git.push"),
  promptId: Id.optional(),
  branch: z.string().min(1).max(250),
  headSha: CommitSha,
  status: z.enum(["pushed", "failed", "awaiting_approval"]),
  error: z.string().max(4000).optional(),
  secretsHidden: SecretsHidden,
});

/**
 * A push that changes protected paths (`.github/workflows/`) waits for a person: one evolving row
 * per request, `pending` until a participant approves or rejects it.
 */
export const PushApprovalEvent = z.object({
  type: z.literal("push.approval"),
  approvalId: Id,
  branch: z.string().min(1).max(250),
  headSha: CommitSha,
  files: z.array(z.string().max(4096)).max(1000),
  state: z.enum(["pending", "approved", "rejected"]),
  decidedBy: Author.optional(),
  decidedAt: z.number().optional(),
});

export type ArtifactEvent = z.infer<typeof ArtifactEvent>;
export type GitPushEvent = z.infer<typeof GitPushEvent>;
export type PushApprovalEvent = z.infer<typeof PushApprovalEvent>;

/** What went wrong in the agent's run, as written: its code comes from the registry. */
export const AgentErrorEvent = z.object({
  type: z.literal("agent.error"),
  promptId: Id.optional(),
  message: z.string(),
  code: ErrorCode.optional(),
  secretsHidden: SecretsHidden,
});

/**
 * An `agent.error` as stored: rows written by another version may carry a code this one does not
 * know, which reads as its registry equivalent or `UNKNOWN` instead of making the log unreadable.
 */
export const StoredAgentErrorEvent = AgentErrorEvent.extend({ code: StoredErrorCode.optional() });

export const SandboxStatusEvent = z.object({
  type: z.literal("sandbox.status"),
  status: SandboxStatus,
  sandboxId: Id.optional(),
  detail: z.string().optional(),
});

/**
 * A sandbox that starts from an existing work tree (a repository image or a snapshot) brings it up
 * to date with the remote while the agent already reads: `started` when the fetch begins,
 * `finished` with how many commits the base had moved on (`behind`) and the commit the work tree
 * now stands on, or `failed` (the agent then works on the image's commit). One evolving row per
 * sync (`syncId`); file-writing tools wait until it is no longer `started`.
 */
export const SandboxSyncEvent = z.object({
  type: z.literal("sandbox.sync"),
  syncId: Id,
  phase: z.enum(["started", "finished", "failed"]),
  baseBranch: z.string().min(1).max(250),
  /** The commit the work tree stood on when the sandbox started. */
  fromSha: CommitSha.optional(),
  /** The commit it stands on after the sync. */
  toSha: CommitSha.optional(),
  /** Commits the fast-forward brought in. */
  behind: z.number().int().nonnegative().optional(),
  /** File-writing tool calls that waited for the sync. */
  heldWrites: z.number().int().nonnegative().optional(),
  durationMs: z.number().nonnegative().optional(),
  error: z.string().max(2000).optional(),
});
export type SandboxSyncEvent = z.infer<typeof SandboxSyncEvent>;

export const EventPayload = z.discriminatedUnion("type", [
  SessionCreatedEvent,
  SessionTitleEvent,
  SessionArchivedEvent,
  SessionUnarchivedEvent,
  ParticipantJoinedEvent,
  ParticipantRoleEvent,
  PromptQueuedEvent,
  PromptCancelledEvent,
  PromptStartedEvent,
  PromptFinishedEvent,
  StopRequestedEvent,
  MessageTextEvent,
  ToolCallEvent,
  StepFinishedEvent,
  FilesChangedEvent,
  GitCommitEvent,
  ArtifactEvent,
  StoredAgentErrorEvent,
  SandboxStatusEvent,
  SandboxSyncEvent,
  GitPushEvent,
  PushApprovalEvent,
]);
export type EventPayload = z.infer<typeof EventPayload>;
export type EventType = EventPayload["type"];

/** A stored event: the payload plus its place in the log. */
export const SessionEvent = z.object({
  seq: Seq,
  /**
   * The sequence number at which this row first appeared. An evolving row takes a new `seq` each
   * time it changes; ordering rows by `firstSeq` shows a replay in the same order a live watcher saw.
   */
  firstSeq: Seq.optional(),
  /** Milliseconds since the epoch when this row was last written. */
  at: z.number(),
  key: z.string().nullable(),
  payload: EventPayload,
});
export type SessionEvent = z.infer<typeof SessionEvent>;

/** The evolving-row key of a payload, or null when the event simply appends. */
export function eventKey(payload: EventPayload): string | null {
  switch (payload.type) {
    case "message.text":
      return `text:${payload.messageId}`;
    case "tool.call":
      return `tool:${payload.callId}`;
    case "artifact":
      return `artifact:${payload.artifactId}`;
    case "files.changed":
      return `files:${payload.promptId}`;
    case "push.approval":
      return `approval:${payload.approvalId}`;
    case "sandbox.sync":
      return `sync:${payload.syncId}`;
    default:
      return null;
  }
}
