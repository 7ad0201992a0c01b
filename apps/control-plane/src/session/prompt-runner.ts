import { type Author, gitAuthorFor, LookoutError, type QueuedPrompt } from "@lookout/protocol";
import type { SessionContext } from "./context";
import { restingStatus } from "./decisions";
import { newId } from "./ids";
import { isLive } from "./lifecycle";
import type { PromptInput } from "./ports";
import { actingRole, authorize } from "./roles";

/** What the runner asks of the sandbox supervisor. */
export interface SandboxControl {
  /** Brings up a sandbox for waiting work (no-op when one is live or the breaker is open). */
  spawn(): void;
  /** The sandbox went quiet after a prompt: save its workspace so a replacement can resume. */
  snapshotAfterPrompt(): void;
}

export type PromptEnd = "completed" | "failed" | "stopped";

/**
 * The prompt queue in motion: accepting, cancelling and stopping prompts, starting the next one
 * when a bridge is ready, settling each one, and the execution deadlines that bound a run.
 */
export class PromptRunner {
  constructor(
    private readonly ctx: SessionContext,
    private readonly sandboxes: () => SandboxControl,
  ) {}

  enqueue(author: Author, input: PromptInput): { promptId: string; duplicate: boolean } {
    const { hub, session: store, queue, ports } = this.ctx;
    const session = hub.requireSession();
    const role = actingRole(store.roleOf(author.userId));
    authorize(role, "prompt.send");
    if (session.archived) throw new LookoutError("SESSION_ARCHIVED");
    const now = ports.now();
    if (store.addParticipant(author, role, now)) hub.record({ type: "participant.joined", participant: author, role });
    const { prompt, duplicate } = queue.enqueue(
      {
        id: newId("pmt", now),
        requestId: input.requestId,
        author,
        text: input.text,
        model: input.model ?? session.model,
        reasoningEffort: input.reasoningEffort ?? session.reasoningEffort,
      },
      now,
    );
    if (!duplicate) {
      hub.record({
        type: "prompt.queued",
        promptId: prompt.promptId,
        author,
        text: prompt.text,
        model: prompt.model,
        ...(prompt.reasoningEffort ? { reasoningEffort: prompt.reasoningEffort } : {}),
      });
      hub.broadcastQueue();
      this.advance();
      hub.touchIndex();
    }
    return { promptId: prompt.promptId, duplicate };
  }

  cancel(author: Author, promptId: string): QueuedPrompt {
    const { hub, session, queue, ports } = this.ctx;
    hub.requireSession();
    authorize(actingRole(session.roleOf(author.userId)), "prompt.cancel");
    const prompt = queue.cancel(promptId, ports.now());
    hub.record({ type: "prompt.cancelled", promptId, by: author });
    hub.broadcastQueue();
    return prompt;
  }

  stop(author: Author): void {
    const { hub, session, queue } = this.ctx;
    hub.requireSession();
    authorize(actingRole(session.roleOf(author.userId)), "session.stop");
    const running = queue.running();
    if (!running) throw new LookoutError("NOTHING_RUNNING");
    hub.record({ type: "stop.requested", promptId: running.promptId, by: author });
    this.requestStop(running.promptId, "stopped", "Stopped before the sandbox picked it up.");
  }

  /** An archived session keeps nothing waiting and stops what runs. */
  windDown(author: Author): void {
    const { hub, queue, ports } = this.ctx;
    for (const prompt of queue.active()) {
      if (prompt.status === "pending") queue.cancel(prompt.promptId, ports.now());
    }
    const running = queue.running();
    if (running) {
      hub.record({ type: "stop.requested", promptId: running.promptId, by: author });
      this.requestStop(running.promptId, "stopped", "Stopped before the sandbox picked it up.");
    }
    hub.broadcastQueue();
  }

  /** Moves the queue forward: start the next prompt, or bring up a sandbox for it. */
  advance(): void {
    const { hub, queue, sandbox, deadlines, lifecycle, ports } = this.ctx;
    const session = hub.requireSession();
    if (queue.running()) return hub.setStatus("running");
    const next = queue.nextPending();
    const live = isLive(sandbox.status());
    if (!next) {
      if (live && !deadlines.get("inactivity")) deadlines.set("inactivity", ports.now() + lifecycle.inactivityTimeoutMs);
      return hub.setStatus(restingStatus(session.status, live));
    }
    const status = sandbox.status();
    if ((status === "ready" || status === "idle") && hub.bridgeSocket()) return this.start(next);
    hub.setStatus("starting");
    this.sandboxes().spawn();
  }

  /** Settles a prompt (the bridge reported, or the session gave up on it) and moves on. */
  finish(promptId: string, status: PromptEnd, error: string | null): void {
    const { hub, queue, sandbox, deadlines, events, ports } = this.ctx;
    const now = ports.now();
    const finished = queue.finish(promptId, status, error, now);
    if (!finished) return;
    hub.record({ type: "prompt.finished", promptId, status, ...(error ? { error } : {}) });
    deadlines.clear("execution");
    deadlines.clear("stop-confirmation");
    if (sandbox.status() === "running") hub.setSandboxStatus("idle");
    hub.broadcastQueue();
    this.advance();
    if (!queue.running()) this.sandboxes().snapshotAfterPrompt();
    const session = hub.requireSession();
    const report = ports.reportOutcome;
    if (report && session.origin.kind !== "dashboard" && session.origin.kind !== "api") {
      const outcome = {
        kind: "prompt.finished" as const,
        sessionId: session.id,
        origin: session.origin,
        promptId,
        status,
        error,
        summary: events.lastAssistantText(promptId),
        at: now,
      };
      hub.defer(() => report(outcome));
    }
  }

  /** The bridge must know the prompt it reports on. */
  requirePrompt(promptId: string): void {
    if (!this.ctx.queue.get(promptId)) {
      throw new LookoutError("PROMPT_NOT_FOUND", `The bridge reported on unknown prompt ${promptId}.`);
    }
  }

  onExecutionDeadline(now: number): void {
    const running = this.ctx.queue.running();
    if (!running) return;
    this.ctx.hub.record({
      type: "agent.error",
      promptId: running.promptId,
      code: "EXECUTION_TIMEOUT",
      message: "The prompt ran past the execution time limit and is being stopped.",
    });
    this.requestStop(running.promptId, "failed", "Execution timed out.", now);
  }

  /** The bridge did not confirm a stop in time; returns whether a prompt was still running. */
  onStopUnconfirmed(): boolean {
    const running = this.ctx.queue.running();
    if (!running) return false;
    this.finish(running.promptId, "stopped", "The sandbox did not confirm the stop in time; it was replaced.");
    return true;
  }

  /** The sandbox is gone: a running prompt ends as failed rather than silently running again. */
  interrupt(reason: string): void {
    const running = this.ctx.queue.running();
    if (running) this.finish(running.promptId, "failed", `${reason} The prompt was interrupted.`);
  }

  private start(prompt: QueuedPrompt): void {
    const { hub, queue, deadlines, lifecycle, ports } = this.ctx;
    const now = ports.now();
    queue.start(prompt.promptId, now);
    hub.record({ type: "prompt.started", promptId: prompt.promptId });
    deadlines.clear("inactivity");
    deadlines.set("execution", now + lifecycle.executionTimeoutMs);
    hub.setSandboxStatus("running");
    hub.setStatus("running");
    hub.sendToBridge({
      type: "command.prompt",
      promptId: prompt.promptId,
      text: prompt.text,
      author: prompt.author,
      gitAuthor: gitAuthorFor(prompt.author),
      model: prompt.model,
      ...(prompt.reasoningEffort ? { reasoningEffort: prompt.reasoningEffort } : {}),
    });
    hub.broadcastQueue();
  }

  /** Asks the bridge to stop; with no bridge to ask, the prompt ends here with `fallback`. */
  private requestStop(promptId: string, fallback: PromptEnd, message: string, now = this.ctx.ports.now()): void {
    if (this.ctx.hub.sendToBridge({ type: "command.stop", promptId })) {
      this.ctx.deadlines.set("stop-confirmation", now + this.ctx.lifecycle.stopConfirmationMs);
    } else {
      this.finish(promptId, fallback, message);
    }
  }
}
