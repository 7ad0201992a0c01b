import type { BridgeEventPayload, ReasoningEffort } from "@lookout/protocol";
import type { Clock, Timer } from "./clock";
import { splitModelRef } from "./config";
import type { AgentCommand } from "./connection";
import type { Git } from "./git";
import { errorMessage, type Logger } from "./logger";
import type { AgentBackend } from "./opencode-driver";
import { isRunFinalised, parseOpencodeEvent, type MessageWithParts } from "./opencode-events";
import { TextCoalescer } from "./text-coalescer";
import { EventTranslator, type TranslatorOutput } from "./translator";

/** How often OpenCode's status is polled while a prompt runs, in case an `idle` event was missed. */
export const DEFAULT_COMPLETION_POLL_MS = 2_000;
/** How long a stopped prompt may take to wind down before it is finished anyway. */
export const DEFAULT_STOP_GRACE_MS = 15_000;
/** How long to wait, after OpenCode goes idle, for it to finalise the run's messages. */
export const DEFAULT_SETTLE_TIMEOUT_MS = 5_000;
/** How often the messages are read while waiting for that. */
const SETTLE_POLL_MS = 100;
/** The longest commit subject line. */
const MAX_SUBJECT_CHARS = 72;

type PromptCommand = Extract<AgentCommand, { type: "command.prompt" }>;
type PushDecided = Extract<AgentCommand, { type: "command.push.decided" }>;
type Task = { kind: "prompt"; command: PromptCommand } | { kind: "snapshot" } | { kind: "push-decided"; command: PushDecided };

/** Pushes the session branch after a prompt's commit (see `scm/push.ts`). */
export interface BranchPusher {
  /** Pushes what the prompt committed, or asks a person first; reports with `git.push` events. */
  afterCommit(promptId: string): Promise<void>;
  /** Acts on a participant's decision about a held-back push. */
  onDecision(command: PushDecided): Promise<void>;
}

export interface AgentOptions {
  backend: AgentBackend;
  git: Git;
  /** Sends an event to the session (through the outbox). */
  emit: (event: BridgeEventPayload) => void;
  clock: Clock;
  logger: Logger;
  lookoutSessionId: string;
  textFlushIntervalMs: number;
  /** Absent when the session has no remote (a workdir prepared by hand): nothing is pushed. */
  pusher?: BranchPusher;
  completionPollMs?: number;
  stopGraceMs?: number;
  settleTimeoutMs?: number;
}

/** The prompt OpenCode is working on. */
class RunningPrompt {
  stopRequested = false;
  sawBusy = false;
  /** Whether OpenCode has accepted the prompt (an abort before that would be lost). */
  promptSent = false;
  readonly errors: Array<{ name: string; message: string }> = [];
  private settleResolve: (() => void) | undefined;
  readonly settled: Promise<void>;
  private isSettled = false;

  constructor(
    readonly promptId: string,
    readonly startedAt: number,
  ) {
    this.settled = new Promise((resolve) => (this.settleResolve = resolve));
  }

  get done(): boolean {
    return this.isSettled;
  }

  settle(): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.settleResolve?.();
  }
}

/**
 * Runs prompts one at a time, in order: sends each to OpenCode, turns OpenCode's events into
 * Lookout events while it works, and when it is done commits the changes as the prompting user
 * and reports `files.changed`, `git.commit` and `prompt.finished`.
 */
export class Agent {
  private readonly queue: Task[] = [];
  private current: RunningPrompt | undefined;
  private draining = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly translator: EventTranslator;
  private readonly coalescer: TextCoalescer;

  constructor(private readonly options: AgentOptions) {
    this.translator = new EventTranslator(options.backend.sessionId);
    this.coalescer = new TextCoalescer(
      (update) =>
        options.emit({
          type: "message.text",
          promptId: update.promptId,
          messageId: update.messageId,
          text: update.text,
          role: update.role,
        }),
      options.clock,
      options.textFlushIntervalMs,
    );
  }

  start(): void {
    this.options.backend.subscribe((raw) => this.onOpencodeEvent(raw));
  }

  handle(command: AgentCommand): void {
    const { logger } = this.options;
    switch (command.type) {
      case "command.prompt":
        if (this.closed) return;
        this.queue.push({ kind: "prompt", command });
        logger.info("prompt queued", { promptId: command.promptId, queued: this.queue.length });
        void this.drain();
        return;
      case "command.stop":
        this.stop(command.promptId);
        return;
      case "command.snapshot":
        if (this.closed) return;
        this.queue.push({ kind: "snapshot" });
        void this.drain();
        return;
      case "command.push.decided":
        // Queued like a prompt, so a push never races the next prompt's commit and push.
        if (this.closed) return;
        this.queue.push({ kind: "push-decided", command });
        void this.drain();
        return;
      case "command.shutdown":
        // The owner of the process (main) handles shutdown; see `shutdown`.
        return;
    }
  }

  /** Stops the running prompt and finishes queued ones as stopped; resolves when nothing runs. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) {
      if (task.kind === "prompt") {
        this.options.emit({
          type: "prompt.finished",
          promptId: task.command.promptId,
          status: "stopped",
          error: "The sandbox shut down before this prompt ran.",
        });
      }
    }
    if (this.current) this.stop(this.current.promptId);
    await this.whenIdle();
    this.options.backend.close();
  }

  /** Resolves once no task runs or waits. */
  whenIdle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private stop(promptId: string): void {
    const { logger } = this.options;
    const current = this.current;
    if (current && current.promptId === promptId) {
      if (current.stopRequested) return;
      current.stopRequested = true;
      logger.info("stopping prompt", { promptId });
      // Before OpenCode has the prompt, runPrompt aborts right after sending it.
      if (current.promptSent) this.abortRun(promptId);
      const grace = this.options.clock.setTimeout(() => current.settle(), this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
      void current.settled.then(() => grace.cancel());
      return;
    }
    const index = this.queue.findIndex((task) => task.kind === "prompt" && task.command.promptId === promptId);
    if (index >= 0) {
      this.queue.splice(index, 1);
      this.options.emit({ type: "prompt.finished", promptId, status: "stopped" });
      return;
    }
    logger.info("stop for a prompt that is not running", { promptId });
  }

  private abortRun(promptId: string): void {
    this.options.backend
      .abort()
      .catch((error: unknown) => this.options.logger.warn("abort failed", { promptId, error: errorMessage(error) }));
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let task = this.queue.shift(); task; task = this.queue.shift()) {
        if (task.kind === "prompt") await this.runPrompt(task.command);
        else if (task.kind === "push-decided") await this.decidePush(task.command);
        else await this.snapshot();
      }
    } finally {
      this.draining = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
  }

  private async snapshot(): Promise<void> {
    try {
      // The queue has drained and every prompt ends in a commit, so the workspace is at rest and
      // the branch head names its state. This is a consistency point, not a provider snapshot.
      const head = await this.options.git.head();
      this.options.emit({ type: "snapshot.ready", snapshotId: `git:${head ?? "empty"}` });
    } catch (error) {
      this.options.emit({ type: "agent.error", message: `Snapshot preparation failed: ${errorMessage(error)}`, code: "SNAPSHOT_FAILED" });
    }
  }

  private async decidePush(command: PushDecided): Promise<void> {
    try {
      await this.options.pusher?.onDecision(command);
    } catch (error) {
      this.options.emit({
        type: "agent.error",
        message: `Pushing the approved commit failed: ${errorMessage(error)}`,
        code: "GIT_PUSH_FAILED",
      });
    }
  }

  /**
   * Pushes the branch once the prompt's work is committed, before the prompt is reported
   * finished, so a finished prompt's commits are on the remote (or waiting for approval). A
   * failed push is reported but does not fail the prompt: the commits stay in the sandbox.
   */
  private async push(promptId: string): Promise<void> {
    const { pusher, emit, logger } = this.options;
    if (!pusher) return;
    try {
      await pusher.afterCommit(promptId);
    } catch (error) {
      logger.warn("push failed", { promptId, error: errorMessage(error) });
      emit({ type: "agent.error", promptId, message: `Pushing the branch failed: ${errorMessage(error)}`, code: "GIT_PUSH_FAILED" });
    }
  }

  private async runPrompt(command: PromptCommand): Promise<void> {
    const { backend, git, logger, emit, clock } = this.options;
    const run = new RunningPrompt(command.promptId, clock.now());
    this.current = run;
    this.translator.beginPrompt(command.promptId);
    logger.info("prompt started", { promptId: command.promptId, model: command.model });
    let before: string | undefined;
    try {
      before = await git.head();
      const { providerID, modelID } = splitModelRef(command.model);
      await backend.prompt({ text: command.text, providerID, modelID, variant: variantFor(command.reasoningEffort) });
      run.promptSent = true;
      if (run.stopRequested) this.abortRun(run.promptId);
    } catch (error) {
      this.recordError(run, { name: "PROMPT_REJECTED", message: errorMessage(error) });
      run.settle();
    }
    const poll = this.pollCompletion(run);
    await run.settled;
    poll.cancel();

    try {
      const messages = await this.finalisedMessages(run.promptId);
      for (const output of this.translator.reconcile(messages)) this.apply(output);
    } catch (error) {
      logger.warn("could not reconcile messages", { promptId: run.promptId, error: errorMessage(error) });
    }
    this.coalescer.reset();
    this.translator.endPrompt();
    this.current = undefined;

    const status = run.stopRequested ? "stopped" : run.errors.length > 0 ? "failed" : "completed";
    const gitError = await this.commitChanges(command, before);
    if (!gitError) await this.push(run.promptId);
    const error = run.errors[0]?.message ?? gitError;
    emit({
      type: "prompt.finished",
      promptId: run.promptId,
      status: status === "completed" && gitError ? "failed" : status,
      ...(error ? { error } : {}),
    });
    logger.info("prompt finished", { promptId: run.promptId, status, errors: run.errors.length });
  }

  /** Commits the prompt's changes as its author; returns an error message if git failed. */
  private async commitChanges(command: PromptCommand, before: string | undefined): Promise<string | undefined> {
    const { git, emit, logger } = this.options;
    try {
      const message = commitMessage(command.text, command.author.name, this.options.lookoutSessionId, command.promptId);
      const sha = await git.commitAll(message, command.gitAuthor);
      const after = await git.head();
      if (after && after !== before) {
        const { files, diff } = await git.changesBetween(before, after);
        if (files.length > 0) emit({ type: "files.changed", promptId: command.promptId, files, diff });
      }
      if (sha) {
        const branch = await git.currentBranch();
        emit({
          type: "git.commit",
          promptId: command.promptId,
          sha,
          branch,
          message,
          author: { name: command.gitAuthor.name, email: command.gitAuthor.email },
        });
        logger.info("committed", { promptId: command.promptId, sha, branch });
      }
      return undefined;
    } catch (error) {
      const message = `Committing the prompt's changes failed: ${errorMessage(error)}`;
      emit({ type: "agent.error", promptId: command.promptId, message, code: "GIT_COMMIT_FAILED" });
      return message;
    }
  }

  /**
   * The session's messages once OpenCode has finalised the run (see `isRunFinalised`), or as
   * they are when that takes longer than the settle timeout.
   */
  private async finalisedMessages(promptId: string): Promise<MessageWithParts[]> {
    const { backend, clock } = this.options;
    const deadline = clock.now() + (this.options.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS);
    for (;;) {
      const messages = await backend.messages();
      if (isRunFinalised(messages)) return messages;
      if (clock.now() >= deadline) {
        this.options.logger.warn("opencode did not finalise the run in time", { promptId });
        return messages;
      }
      await new Promise<void>((resolve) => clock.setTimeout(resolve, SETTLE_POLL_MS));
    }
  }

  /** Polls OpenCode's status so a missed `idle` event cannot hang the prompt. */
  private pollCompletion(run: RunningPrompt): Timer {
    const pollMs = this.options.completionPollMs ?? DEFAULT_COMPLETION_POLL_MS;
    let timer: Timer;
    const tick = (): void => {
      if (run.done) return;
      this.options.backend
        .isBusy()
        .then((busy) => {
          // Only a prompt seen running can be done: OpenCode reports a session as idle while
          // it is still loading providers for its first model call.
          if (busy) run.sawBusy = true;
          else if (run.sawBusy) run.settle();
        })
        .catch((error: unknown) => this.options.logger.warn("status poll failed", { error: errorMessage(error) }))
        .finally(() => {
          if (!run.done) timer = this.options.clock.setTimeout(tick, pollMs);
        });
    };
    timer = this.options.clock.setTimeout(tick, pollMs);
    return { cancel: () => timer.cancel() };
  }

  private onOpencodeEvent(raw: unknown): void {
    const parsed = parseOpencodeEvent(raw);
    if (!parsed.ok) {
      if (parsed.reason === "invalid") this.options.logger.warn("ignored a malformed opencode event", { detail: parsed.detail });
      return;
    }
    for (const output of this.translator.translate(parsed.event)) this.apply(output);
  }

  private apply(output: TranslatorOutput): void {
    const run = this.current;
    switch (output.kind) {
      case "text":
        this.coalescer.update(
          { promptId: output.promptId, messageId: output.messageId, role: output.role, text: output.text },
          output.final,
        );
        return;
      case "event":
        this.options.emit(output.event);
        return;
      case "busy":
        if (run) run.sawBusy = true;
        return;
      case "idle":
        if (run?.sawBusy) run.settle();
        return;
      case "error":
        if (!run) return;
        // Aborting is how a stop works; it is not an agent error.
        if (output.name === "MessageAbortedError" && run.stopRequested) return;
        this.recordError(run, output);
        return;
    }
  }

  private recordError(run: RunningPrompt, error: { name: string; message: string }): void {
    run.errors.push(error);
    this.options.emit({ type: "agent.error", promptId: run.promptId, message: error.message, code: errorCode(error.name) });
  }
}

/** OpenCode's error names (`APIError`, `MessageAbortedError`) as Lookout's UPPER_SNAKE codes. */
export function errorCode(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .toUpperCase();
}

/**
 * OpenCode's model variants carry reasoning settings; Lookout's effort names match the variant
 * names OpenCode generates for reasoning models, and OpenCode ignores a variant a model lacks.
 */
export function variantFor(effort: ReasoningEffort | undefined): string | undefined {
  return effort;
}

/** A commit message: the prompt's first line as the subject, then who asked and trailers. */
export function commitMessage(prompt: string, authorName: string, sessionId: string, promptId: string): string {
  const firstLine = prompt
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line.length > 0);
  const subjectSource = firstLine ?? "Lookout changes";
  const subject = subjectSource.length > MAX_SUBJECT_CHARS ? `${subjectSource.slice(0, MAX_SUBJECT_CHARS - 1).trimEnd()}…` : subjectSource;
  return `${subject}\n\nPrompted by ${authorName} in Lookout.\n\nLookout-Session: ${sessionId}\nLookout-Prompt: ${promptId}`;
}
