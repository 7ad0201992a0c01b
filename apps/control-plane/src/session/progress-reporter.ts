import {
  describeAction,
  type EventPayload,
  type ProgressAction,
  progressActions,
  type ProgressStep,
  type SessionOutcome,
  toolSubject,
} from "@lookout/protocol";
import type { SessionContext } from "./context";

export type ProgressOutcome = Extract<SessionOutcome, { kind: "progress" }>;

/** How the session paces the steps it reports to its origin. */
export const PROGRESS = {
  /** At most one progress report per session this often; the latest step within it wins. */
  throttleMs: 2_000,
};

/** Longest sandbox failure quoted in a "waiting for a sandbox" step. */
const MAX_DETAIL_CHARS = 160;

interface StepOf {
  promptId: string;
  step: ProgressStep;
}

/**
 * Tells the session's origin where its running prompt is (waiting, starting, cloning, thinking,
 * running a tool), derived from the events the session records anyway. It is on the hot path of
 * every streamed event, so an event that changes nothing costs a comparison; a step that changed is
 * taken after its unit commits, and reports are throttled in memory: the first step goes at once,
 * later ones at most every `PROGRESS.throttleMs`, the latest winning. A step of a prompt that has
 * settled is dropped, so nothing follows the prompt's final report. The throttle lives in memory:
 * an object that restarts only forgets a step the next one replaces.
 */
export class ProgressReporter {
  /** The last step taken (committed), as `promptId|kind|text`. */
  private current: string | null = null;
  private pending: StepOf | null = null;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timerArmed = false;
  /** Whether the session's origin is told anything; its origin never changes, so it is read once. */
  private reportsToOrigin: boolean | null = null;

  private constructor(private readonly ctx: SessionContext) {}

  /** Starts reporting the session's steps, when its host takes them (`reportProgress` and `later`). */
  static attach(ctx: SessionContext): void {
    if (!ctx.ports.reportProgress || !ctx.ports.later) return;
    const reporter = new ProgressReporter(ctx);
    ctx.hub.observe((payload) => reporter.onRecorded(payload));
  }

  private onRecorded(payload: EventPayload): void {
    if (!this.hasOrigin()) return;
    if (payload.type === "prompt.finished") {
      const { promptId } = payload;
      this.ctx.hub.defer(() => settled(() => this.settle(promptId)));
      return;
    }
    const next = this.stepOf(payload);
    if (!next || keyOf(next) === this.current) return;
    this.ctx.hub.defer(() => settled(() => this.offer(next)));
  }

  /** The step an event moves its prompt to, or null when it changes nothing an origin shows. */
  private stepOf(payload: EventPayload): StepOf | null {
    const { queue, sandbox } = this.ctx;
    switch (payload.type) {
      case "tool.call":
        if (payload.state === "pending") return null;
        if (payload.state !== "running") return { promptId: payload.promptId, step: THINKING };
        return {
          promptId: payload.promptId,
          step: { kind: "running", text: describeAction({ tool: payload.tool, subject: toolSubject(payload.title, payload.input) }) },
        };
      case "prompt.started":
        return { promptId: payload.promptId, step: THINKING };
      case "prompt.queued": {
        const ahead = queue.running() ?? queue.nextPending();
        if (!ahead || ahead.promptId === payload.promptId) return null;
        return { promptId: payload.promptId, step: { kind: "queued", text: "Waiting behind another prompt" } };
      }
      case "sandbox.status": {
        const prompt = queue.running() ?? queue.nextPending();
        if (!prompt) return null;
        const restoring = sandbox.get()?.snapshotId != null;
        switch (payload.status) {
          case "spawning":
            return {
              promptId: prompt.promptId,
              step: { kind: "starting", text: restoring ? "Restoring the sandbox from its snapshot" : "Starting a sandbox" },
            };
          // From the session's snapshot or the repository's image (whose start the event's detail
          // names), the repository is there and only syncs; otherwise the bridge clones it.
          case "connecting":
            return restoring || payload.detail !== undefined
              ? { promptId: prompt.promptId, step: { kind: "syncing", text: "Syncing the repository" } }
              : { promptId: prompt.promptId, step: { kind: "cloning", text: "Cloning the repository" } };
          case "failed":
            return { promptId: prompt.promptId, step: { kind: "queued", text: waitingText(payload.detail) } };
          default:
            return null;
        }
      }
      default:
        return null;
    }
  }

  private offer(next: StepOf): void {
    if (!this.isActive(next.promptId)) return;
    this.current = keyOf(next);
    this.pending = next;
    const { ports } = this.ctx;
    const waitMs = this.lastSentAt + PROGRESS.throttleMs - ports.now();
    if (waitMs <= 0) return this.flush();
    if (this.timerArmed) return;
    this.timerArmed = true;
    ports.later?.(waitMs, () => {
      this.timerArmed = false;
      this.flush();
    });
  }

  /** The prompt settled: its waiting step is dropped (its final report says how it ended). */
  private settle(promptId: string): void {
    if (this.pending?.promptId === promptId) this.pending = null;
  }

  private flush(): void {
    const next = this.pending;
    this.pending = null;
    const { ports, session } = this.ctx;
    const report = ports.reportProgress;
    const record = session.get();
    if (!next || !report || !record || !this.isActive(next.promptId)) return;
    const now = ports.now();
    this.lastSentAt = now;
    const outcome: ProgressOutcome = {
      kind: "progress",
      sessionId: record.id,
      origin: record.origin,
      promptId: next.promptId,
      step: next.step,
      actions: this.actionsOf(next.promptId),
      at: now,
    };
    ports.defer(report(outcome));
  }

  /** Sessions made from the dashboard or the REST API report nowhere, so their events cost nothing here. */
  private hasOrigin(): boolean {
    if (this.reportsToOrigin === null) {
      const kind = this.ctx.session.get()?.origin.kind;
      if (!kind) return false;
      this.reportsToOrigin = kind !== "dashboard" && kind !== "api";
    }
    return this.reportsToOrigin;
  }

  private isActive(promptId: string): boolean {
    const status = this.ctx.queue.get(promptId)?.status;
    return status === "pending" || status === "running";
  }

  /**
   * The prompt's tool steps so far, read from the log once per report: calls in the order they
   * started, pending ones (input not known yet) left out — as the Linear sink rebuilds them later.
   */
  private actionsOf(promptId: string): ProgressAction[] {
    const rows = this.ctx.ports.sql.exec<{ tool: string; title: string | null; input: string | null }>(
      `SELECT json_extract(payload, '$.tool') AS tool, json_extract(payload, '$.title') AS title,
              json_extract(payload, '$.input') AS input
         FROM events
        WHERE type = 'tool.call' AND json_extract(payload, '$.promptId') = ? AND json_extract(payload, '$.state') != 'pending'
        ORDER BY COALESCE(first_seq, seq)`,
      promptId,
    );
    return progressActions(rows.map((row) => ({ tool: row.tool, subject: toolSubject(row.title, parseInput(row.input)) })));
  }
}

const THINKING: ProgressStep = { kind: "thinking", text: "Thinking" };

/**
 * Runs `work` now, as a promise: a failure becomes a rejection the host logs (`defer`), never an
 * exception thrown into the hub after its unit committed.
 */
function settled(work: () => void): Promise<void> {
  try {
    work();
    return Promise.resolve();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function keyOf({ promptId, step }: StepOf): string {
  return `${promptId}|${step.kind}|${step.text}`;
}

function waitingText(detail: string | undefined): string {
  if (!detail) return "Waiting for a sandbox";
  const clipped = detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS - 1)}…` : detail;
  return `Waiting for a sandbox (${clipped})`;
}

/** `json_extract` gives an object input back as JSON text, a string input as the string. */
function parseInput(input: string | null): unknown {
  if (input === null) return null;
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}
