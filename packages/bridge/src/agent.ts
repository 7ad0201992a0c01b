import { type BridgeEventPayload, type ErrorCode, isErrorCode, type ReasoningEffort } from "@lookout/protocol";
import type { Clock } from "./clock";
import { splitModelRef } from "./config";
import type { AgentCommand } from "./connection";
import type { Git } from "./git";
import { errorMessage, type Logger } from "./logger";
import type { AgentBackend } from "./opencode-driver";
import { parseOpencodeEvent } from "./opencode-events";
import { commitPromptChanges, type PromptCommand } from "./prompt-commit";
import {
  DEFAULT_COMPLETION_POLL_MS,
  DEFAULT_SETTLE_TIMEOUT_MS,
  finalisedMessages,
  pollCompletion,
  RunningPrompt,
} from "./prompt-completion";
import { type WorkTreeSync, WriteGate } from "./sync-gate";
import { TextCoalescer } from "./text-coalescer";
import { EventTranslator, type TranslatorOutput } from "./translator";

/** How long a stopped prompt may take to wind down before it is finished anyway. */
export const DEFAULT_STOP_GRACE_MS = 15_000;

type PushDecided = Extract<AgentCommand, { type: "command.push.decided" }>;
type Task = { kind: "prompt"; command: PromptCommand } | { kind: "push-decided"; command: PushDecided };

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
  /**
   * The work tree's catch-up with the remote, when it started from an image or a snapshot: the
   * agent's writes wait for it (OpenCode must run with `SYNC_GATED_PERMISSION`), and a prompt's
   * changes are measured from where it left the work tree.
   */
  sync?: WorkTreeSync;
  completionPollMs?: number;
  stopGraceMs?: number;
  settleTimeoutMs?: number;
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
  private readonly gate: WriteGate | undefined;

  constructor(private readonly options: AgentOptions) {
    this.gate = options.sync ? new WriteGate(options.sync, options.backend, options.logger) : undefined;
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
    this.options.backend.subscribe((raw) => {
      this.gate?.onOpencodeEvent(raw);
      this.onOpencodeEvent(raw);
    });
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
      case "command.push.decided":
        // Queued like a prompt, so a push never races the next prompt's commit and push.
        if (this.closed) return;
        this.queue.push({ kind: "push-decided", command });
        void this.drain();
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
        else await this.decidePush(task.command);
      }
    } finally {
      this.draining = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const waiter of waiters) waiter();
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
    // While the work tree still syncs, the prompt starts at once; its changes are measured from
    // where the sync leaves the work tree, since no write happens before that.
    const sync = this.options.sync;
    const syncing = sync !== undefined && !sync.finished;
    let before: string | undefined;
    try {
      if (!syncing) before = await git.head();
      const { providerID, modelID } = splitModelRef(command.model);
      await backend.prompt({ text: command.text, providerID, modelID, variant: variantFor(command.reasoningEffort) });
      run.promptSent = true;
      if (run.stopRequested) this.abortRun(run.promptId);
    } catch (error) {
      this.recordError(run, { name: "PROMPT_REJECTED", message: errorMessage(error) });
      run.settle();
    }
    const poll = pollCompletion(run, { ...this.options, pollMs: this.options.completionPollMs ?? DEFAULT_COMPLETION_POLL_MS });
    await run.settled;
    poll.cancel();
    if (syncing) before = (await sync.settled).head;

    try {
      const messages = await finalisedMessages(run.promptId, {
        ...this.options,
        settleTimeoutMs: this.options.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS,
      });
      for (const output of this.translator.reconcile(messages)) this.apply(output);
    } catch (error) {
      logger.warn("could not reconcile messages", { promptId: run.promptId, error: errorMessage(error) });
    }
    this.coalescer.reset();
    this.translator.endPrompt();
    this.current = undefined;

    const status = run.stopRequested ? "stopped" : run.errors.length > 0 ? "failed" : "completed";
    const gitError = await commitPromptChanges(this.options, command, before);
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

/** OpenCode's error names (its SDK's `session.error` union) as registry codes. */
const OPENCODE_ERROR_CODES = new Map<string, ErrorCode>([
  ["APIError", "MODEL_API_ERROR"],
  ["ProviderAuthError", "MODEL_AUTH_FAILED"],
  ["MessageOutputLengthError", "MODEL_OUTPUT_TOO_LONG"],
  ["StructuredOutputError", "MODEL_OUTPUT_INVALID"],
  ["ContextOverflowError", "MODEL_CONTEXT_OVERFLOW"],
  ["ContentFilterError", "MODEL_CONTENT_FILTERED"],
  ["MessageAbortedError", "PROMPT_ABORTED"],
  ["UnknownError", "AGENT_FAILED"],
]);

/**
 * The registry code of an error a run recorded: one the agent chose (`PROMPT_REJECTED`) as is,
 * OpenCode's error names mapped, and a name a later OpenCode adds as `AGENT_FAILED`.
 */
export function errorCode(name: string): ErrorCode {
  if (isErrorCode(name)) return name;
  return OPENCODE_ERROR_CODES.get(name) ?? "AGENT_FAILED";
}

/**
 * OpenCode's model variants carry reasoning settings; Lookout's effort names match the variant
 * names OpenCode generates for reasoning models, and OpenCode ignores a variant a model lacks.
 */
export function variantFor(effort: ReasoningEffort | undefined): string | undefined {
  return effort;
}
