import type { Clock, Timer } from "./clock";
import { errorMessage, type Logger } from "./logger";
import type { AgentBackend } from "./opencode-driver";
import { isRunFinalised, type MessageWithParts } from "./opencode-events";

/**
 * Knowing when OpenCode is done with a prompt: its `idle` event or a status poll settles the
 * prompt, and then its messages are read once OpenCode has finalised them.
 */

/** How often OpenCode's status is polled while a prompt runs, in case an `idle` event was missed. */
export const DEFAULT_COMPLETION_POLL_MS = 2_000;
/** How long to wait, after OpenCode goes idle, for it to finalise the run's messages. */
export const DEFAULT_SETTLE_TIMEOUT_MS = 5_000;
/** How often the messages are read while waiting for that. */
const SETTLE_POLL_MS = 100;

/** What watching OpenCode needs. */
export interface CompletionWatch {
  backend: AgentBackend;
  clock: Clock;
  logger: Logger;
}

/** The prompt OpenCode is working on; settled once OpenCode is done with it (or a stop gave up waiting). */
export class RunningPrompt {
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

/** Polls OpenCode's status every `pollMs` so a missed `idle` event cannot hang the prompt. */
export function pollCompletion(run: RunningPrompt, watch: CompletionWatch & { pollMs: number }): Timer {
  const { backend, clock, logger, pollMs } = watch;
  let timer: Timer;
  const tick = (): void => {
    if (run.done) return;
    backend
      .isBusy()
      .then((busy) => {
        // Only a prompt seen running can be done: OpenCode reports a session as idle while
        // it is still loading providers for its first model call.
        if (busy) run.sawBusy = true;
        else if (run.sawBusy) run.settle();
      })
      .catch((error: unknown) => logger.warn("status poll failed", { error: errorMessage(error) }))
      .finally(() => {
        if (!run.done) timer = clock.setTimeout(tick, pollMs);
      });
  };
  timer = clock.setTimeout(tick, pollMs);
  return { cancel: () => timer.cancel() };
}

/**
 * The session's messages once OpenCode has finalised the run (see `isRunFinalised`), or as they
 * are when that takes longer than `settleTimeoutMs`.
 */
export async function finalisedMessages(
  promptId: string,
  watch: CompletionWatch & { settleTimeoutMs: number },
): Promise<MessageWithParts[]> {
  const { backend, clock, logger } = watch;
  const deadline = clock.now() + watch.settleTimeoutMs;
  for (;;) {
    const messages = await backend.messages();
    if (isRunFinalised(messages)) return messages;
    if (clock.now() >= deadline) {
      logger.warn("opencode did not finalise the run in time", { promptId });
      return messages;
    }
    await new Promise<void>((resolve) => clock.setTimeout(resolve, SETTLE_POLL_MS));
  }
}
