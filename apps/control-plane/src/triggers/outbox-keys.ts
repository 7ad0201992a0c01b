import type { SessionOutcome } from "@lookout/protocol";

/** The outbox's idempotency keys: which reports are one report, and which must wait for which. */

/** The key of a prompt's final report, which its progress reports must never follow. */
export function finalKeyOf(sessionId: string, promptId: string): string {
  return `${sessionId}:${promptId}:prompt.finished`;
}

/** The key of a prompt's progress report: one row per session and prompt, rewritten by each newer step. */
export function progressKeyOf(sessionId: string, promptId: string): string {
  return `${sessionId}:${promptId}:progress`;
}

/**
 * One report per (session, prompt, kind), or per (session, pull request, state): a session that
 * reports the same thing twice enqueues it once. A prompt's steps share one key (`progressKeyOf`).
 */
export function idempotencyKeyOf(outcome: SessionOutcome): string {
  switch (outcome.kind) {
    case "prompt.finished":
      return finalKeyOf(outcome.sessionId, outcome.promptId);
    case "progress":
      return progressKeyOf(outcome.sessionId, outcome.promptId);
    case "pull-request":
      return `${outcome.sessionId}:${outcome.kind}:${outcome.url}:${outcome.state}`;
    default:
      return outcome satisfies never;
  }
}
