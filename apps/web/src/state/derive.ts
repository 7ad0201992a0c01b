import type { Author, EventPayload, PresenceEntry, SessionEvent, TokenUsage } from "@lookout/protocol";

type Payload<T extends EventPayload["type"]> = Extract<EventPayload, { type: T }>;

export type ToolCall = Payload<"tool.call"> & { seq: number; at: number };
export type FilesChanged = Payload<"files.changed">;
export type GitCommit = Payload<"git.commit"> & { seq: number; at: number };
export type Artifact = Payload<"artifact"> & { seq: number; at: number };
export type GitPush = Payload<"git.push"> & { seq: number; at: number };
export type PushApproval = Payload<"push.approval"> & { seq: number; at: number };

/** One thing that happened, in the order it happened. */
export type ActivityItem =
  | { kind: "text"; id: string; at: number; role: "assistant" | "reasoning"; text: string }
  | { kind: "tools"; id: string; calls: ToolCall[] }
  | { kind: "files"; id: string; at: number; promptId: string; files: FilesChanged["files"] }
  | { kind: "commit"; id: string; commit: GitCommit }
  | { kind: "artifact"; id: string; artifact: Artifact }
  | { kind: "push"; id: string; push: GitPush }
  | { kind: "approval"; id: string; approval: PushApproval }
  | { kind: "error"; id: string; at: number; message: string; code: string | undefined }
  | { kind: "stop"; id: string; at: number; by: Author }
  | { kind: "sandbox"; id: string; at: number; status: Payload<"sandbox.status">["status"]; detail: string | undefined }
  | { kind: "sync"; id: string; at: number; sync: Payload<"sandbox.sync"> }
  | {
      kind: "notice";
      id: string;
      at: number;
      payload: Payload<
        | "session.created"
        | "session.title"
        | "session.archived"
        | "session.unarchived"
        | "participant.joined"
        | "participant.role"
        | "prompt.cancelled"
      >;
    };

export type PromptOutcome = "pending" | "running" | "completed" | "failed" | "stopped" | "cancelled";

export interface StepUsage {
  seq: number;
  at: number;
  tokens: TokenUsage;
  costUsd: number;
}

/** A prompt and everything the agent did for it. */
export interface PromptBlock {
  kind: "prompt";
  id: string;
  promptId: string;
  /** 1-based, in the order prompts started. */
  number: number;
  author: Author | null;
  text: string;
  model: string | null;
  reasoningEffort: string | null;
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  outcome: PromptOutcome;
  error: string | undefined;
  items: ActivityItem[];
  steps: StepUsage[];
}

export type TimelineItem = PromptBlock | ActivityItem;

interface PromptInfo {
  author: Author;
  text: string;
  model: string;
  reasoningEffort: string | null;
  queuedAt: number;
}

/**
 * Turns the ordered event log into what the timeline shows: one block per prompt (placed where it
 * started running, since queued prompts wait in the queue) holding the agent's messages, grouped
 * tool calls, changes, commits, errors and step usage. Session-wide events that happen while a
 * prompt runs (sandbox status, artifacts) go into that prompt's block; others stand on their own.
 */
export function buildTimeline(events: readonly SessionEvent[]): TimelineItem[] {
  const items: TimelineItem[] = [];
  const prompts = new Map<string, PromptInfo>();
  const blocks = new Map<string, PromptBlock>();
  let running: PromptBlock | null = null;

  const blockFor = (promptId: string, at: number): PromptBlock => {
    const existing = blocks.get(promptId);
    if (existing) return existing;
    const info = prompts.get(promptId);
    const block: PromptBlock = {
      kind: "prompt",
      id: `prompt:${promptId}`,
      promptId,
      number: blocks.size + 1,
      author: info?.author ?? null,
      text: info?.text ?? "",
      model: info?.model ?? null,
      reasoningEffort: info?.reasoningEffort ?? null,
      queuedAt: info?.queuedAt ?? null,
      startedAt: at,
      finishedAt: null,
      outcome: "running",
      error: undefined,
      items: [],
      steps: [],
    };
    blocks.set(promptId, block);
    items.push(block);
    return block;
  };

  const push = (promptId: string | undefined, item: ActivityItem, at: number) => {
    if (promptId) addActivity(blockFor(promptId, at).items, item);
    else if (running) addActivity(running.items, item);
    else items.push(item);
  };

  for (const event of events) {
    const { payload, seq, at } = event;
    const id = `${event.key ?? `seq:${seq}`}`;
    switch (payload.type) {
      case "prompt.queued":
        prompts.set(payload.promptId, {
          author: payload.author,
          text: payload.text,
          model: payload.model,
          reasoningEffort: payload.reasoningEffort ?? null,
          queuedAt: at,
        });
        break;
      case "prompt.started": {
        const block = blockFor(payload.promptId, at);
        block.startedAt = at;
        block.outcome = "running";
        running = block;
        break;
      }
      case "prompt.finished": {
        const block = blockFor(payload.promptId, at);
        block.outcome = payload.status;
        block.finishedAt = at;
        block.error = payload.error;
        if (running === block) running = null;
        break;
      }
      case "prompt.cancelled":
        items.push({ kind: "notice", id, at, payload });
        break;
      case "message.text":
        push(payload.promptId, { kind: "text", id, at, role: payload.role, text: payload.text }, at);
        break;
      case "tool.call":
        push(payload.promptId, { kind: "tools", id, calls: [{ ...payload, seq, at }] }, at);
        break;
      case "step.finished":
        blockFor(payload.promptId, at).steps.push({ seq, at, tokens: payload.tokens, costUsd: payload.costUsd });
        break;
      case "files.changed":
        push(payload.promptId, { kind: "files", id, at, promptId: payload.promptId, files: payload.files }, at);
        break;
      case "git.commit":
        push(payload.promptId, { kind: "commit", id, commit: { ...payload, seq, at } }, at);
        break;
      case "artifact":
        push(undefined, { kind: "artifact", id, artifact: { ...payload, seq, at } }, at);
        break;
      case "git.push":
        push(payload.promptId, { kind: "push", id, push: { ...payload, seq, at } }, at);
        break;
      case "push.approval":
        push(undefined, { kind: "approval", id, approval: { ...payload, seq, at } }, at);
        break;
      case "agent.error":
        push(payload.promptId, { kind: "error", id, at, message: payload.message, code: payload.code }, at);
        break;
      case "stop.requested":
        push(payload.promptId, { kind: "stop", id, at, by: payload.by }, at);
        break;
      case "sandbox.status":
        push(undefined, { kind: "sandbox", id, at, status: payload.status, detail: payload.detail }, at);
        break;
      case "sandbox.sync":
        push(undefined, { kind: "sync", id, at, sync: payload }, at);
        break;
      case "session.created":
      case "session.title":
      case "session.archived":
      case "session.unarchived":
      case "participant.joined":
      case "participant.role":
        items.push({ kind: "notice", id, at, payload });
        break;
    }
  }
  return items;
}

/** Adds an item, merging a tool call into the tool group right before it. */
function addActivity(items: ActivityItem[], item: ActivityItem): void {
  const last = items.at(-1);
  if (item.kind === "tools" && last?.kind === "tools") {
    last.calls.push(...item.calls);
    return;
  }
  items.push(item);
}

export interface UsageTotals {
  steps: number;
  input: number;
  output: number;
  reasoning: number;
  cacheRead: number;
  cacheWrite: number;
  costUsd: number;
}

export function totalUsage(steps: readonly StepUsage[]): UsageTotals {
  const totals: UsageTotals = { steps: 0, input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0, costUsd: 0 };
  for (const step of steps) {
    totals.steps++;
    totals.input += step.tokens.input;
    totals.output += step.tokens.output;
    totals.reasoning += step.tokens.reasoning;
    totals.cacheRead += step.tokens.cacheRead;
    totals.cacheWrite += step.tokens.cacheWrite;
    totals.costUsd += step.costUsd;
  }
  return totals;
}

/** The files a prompt left changed, with the unified diff against the session's base. */
export interface ChangeSet {
  promptId: string;
  seq: number;
  at: number;
  files: FilesChanged["files"];
  diff: string | undefined;
}

export interface SessionChanges {
  /** Newest first: the first one is the session's current state of changes. */
  changeSets: ChangeSet[];
  commits: GitCommit[];
  artifacts: Artifact[];
  /** The session branch's pull request row, the most recently written one if there were several. */
  pullRequest: Artifact | null;
  /** Pushes waiting for a person's decision, oldest first. */
  pendingApprovals: PushApproval[];
}

export function deriveChanges(events: readonly SessionEvent[]): SessionChanges {
  const changeSets: ChangeSet[] = [];
  const commits: GitCommit[] = [];
  const artifacts: Artifact[] = [];
  const pendingApprovals: PushApproval[] = [];
  let pullRequest: Artifact | null = null;
  for (const { payload, seq, at } of events) {
    if (payload.type === "files.changed") {
      changeSets.push({ promptId: payload.promptId, seq, at, files: payload.files, diff: payload.diff });
    } else if (payload.type === "git.commit") {
      commits.push({ ...payload, seq, at });
    } else if (payload.type === "artifact") {
      artifacts.push({ ...payload, seq, at });
      if (payload.kind === "pull_request" && (!pullRequest || seq > pullRequest.seq)) pullRequest = { ...payload, seq, at };
    } else if (payload.type === "push.approval" && payload.state === "pending") {
      pendingApprovals.push({ ...payload, seq, at });
    }
  }
  // The rows keep their first position; the most recently written change set is the current one.
  changeSets.sort((a, b) => b.seq - a.seq);
  commits.reverse();
  artifacts.reverse();
  return { changeSets, commits, artifacts, pullRequest, pendingApprovals };
}

/** Who is typing, other than `selfUserId`. */
export function typingNames(presence: readonly PresenceEntry[], selfUserId: string | null): string[] {
  return presence.filter((entry) => entry.typing && entry.participant.userId !== selfUserId).map((entry) => entry.participant.name);
}
