import { type BackoffPolicy, backoffDelayMs, type SessionOrigin, type SessionOutcome } from "@lookout/protocol";
import { type OutboxReport, OutboxReportStore } from "../db/outbox-reports";
import type { Env } from "../env";
import { log } from "../log";
import { finalKeyOf, idempotencyKeyOf, progressKeyOf } from "./outbox-keys";
import { REPORT_SINKS } from "./sinks";

export { finalKeyOf, idempotencyKeyOf, progressKeyOf } from "./outbox-keys";

/**
 * Where reports to one kind of origin go. Adding a platform (Slack, GitHub, Linear) is one file in
 * `sinks/` implementing this, plus its line in `sinks/index.ts`.
 */
export interface ReportSink {
  /**
   * Delivers one report. `idempotencyKey` is the same on every attempt for the same report: the
   * receiver (or the sink's own write) uses it so a report sent twice takes effect once. Throwing
   * schedules a retry.
   */
  deliver(env: Env, report: OutboxReport, idempotencyKey: string): Promise<void>;
  /** Called once when the last attempt failed, to make the failure visible where the origin is shown. */
  gaveUp?(env: Env, report: OutboxReport, error: string): Promise<void>;
  /**
   * Whether it shows a running prompt's steps (`progress` reports). A sink without it is never sent
   * them, so they cost nothing for origins that only show results.
   */
  reportsProgress?: boolean;
}

export type ReportSinks = Partial<Record<SessionOrigin["kind"], ReportSink>>;

export interface OutboxOptions {
  policy: BackoffPolicy;
  /** Attempts in all, the first included; after the last failure the report is `failed`. */
  maxAttempts: number;
  /** How long one attempt holds a report before another drainer may take it (a crashed drainer's lease runs out). */
  leaseMs: number;
  /** Reports sent per drain; the scheduler drains again at once while some are due. */
  batch: number;
}

/** About an hour of retries in all: 5 s, 10 s, 20 s … then every 10 minutes. */
export const OUTBOX_DEFAULTS: OutboxOptions = {
  policy: { baseMs: 5_000, maxMs: 10 * 60_000, jitter: "equal" },
  maxAttempts: 12,
  leaseMs: 60_000,
  batch: 25,
};

/**
 * Attempts a progress report gets: a step is soon out of date (the next one or the final report
 * replaces it), so it is not retried for long and its failure is not the session's report error.
 */
export const PROGRESS_MAX_ATTEMPTS = 3;

/**
 * Queues an outcome for its origin. False when there is nowhere to report it (the dashboard and the
 * API have no sink, and most sinks take no progress), when the same report was queued before, or
 * for a step that arrives after its prompt's final report. A final report closes its prompt's
 * waiting step, so no step is shown after the result.
 */
export async function enqueueOutcome(
  db: D1Database,
  outcome: SessionOutcome,
  now: number,
  sinks: ReportSinks = REPORT_SINKS,
): Promise<boolean> {
  const sink = sinks[outcome.origin.kind];
  if (!sink) return false;
  const store = new OutboxReportStore(db);
  if (outcome.kind === "progress") {
    if (!sink.reportsProgress) return false;
    return store.upsertProgress(idempotencyKeyOf(outcome), finalKeyOf(outcome.sessionId, outcome.promptId), outcome, now);
  }
  const enqueued = await store.enqueue(idempotencyKeyOf(outcome), outcome, now);
  if (enqueued && outcome.kind === "prompt.finished" && sink.reportsProgress) {
    await store.supersedeProgress(progressKeyOf(outcome.sessionId, outcome.promptId), now);
  }
  return enqueued;
}

export interface DrainSummary {
  delivered: number;
  retried: number;
  failed: number;
}

/**
 * Sends due reports with retries and exponential backoff. It keeps no state of its own: every
 * attempt is claimed in D1 under a lease and marked delivered there, so a new drainer after a
 * restart retries what the old one left and never resends what it finished.
 */
export class OutboxDrainer {
  private readonly store: OutboxReportStore;

  constructor(
    private readonly env: Env,
    private readonly sinks: ReportSinks = REPORT_SINKS,
    private readonly options: OutboxOptions = OUTBOX_DEFAULTS,
    private readonly random: () => number = Math.random,
  ) {
    this.store = new OutboxReportStore(env.DB);
  }

  async drain(now: number): Promise<DrainSummary> {
    const summary: DrainSummary = { delivered: 0, retried: 0, failed: 0 };
    for (const key of await this.store.dueKeys(now, this.options.batch)) {
      const report = await this.store.claim(key, now, now + this.options.leaseMs);
      if (!report) continue;
      const outcome = await this.attempt(report, now);
      summary[outcome] += 1;
    }
    return summary;
  }

  /** When the next attempt is due, for the scheduler's alarm. */
  nextAttemptAt(): Promise<number | null> {
    return this.store.nextAttemptAt();
  }

  private async attempt(report: OutboxReport, now: number): Promise<keyof DrainSummary> {
    const { outcome } = report;
    const sink = this.sinks[outcome.origin.kind];
    const progress = outcome.kind === "progress";
    try {
      if (!sink) throw new Error(`no sink reports to ${outcome.origin.kind} origins`);
      // A step whose prompt has settled is out of date: the final report shows the result instead.
      if (progress && (await this.store.exists(finalKeyOf(outcome.sessionId, outcome.promptId)))) {
        // This drainer holds the row's lease, which ends at most `leaseMs` from now.
        await this.store.supersedeProgress(report.idempotencyKey, now + this.options.leaseMs);
        return "delivered";
      }
      await sink.deliver(this.env, report, report.idempotencyKey);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (progress) return this.progressFailed(report, now, message);
      if (report.attempts >= this.options.maxAttempts) {
        const text = `gave up after ${report.attempts} attempts: ${message}`;
        if (await this.store.markFailed(report.idempotencyKey, text)) {
          log.warn("a report to a session's origin failed for good", { key: report.idempotencyKey, error: message });
          await this.store.markSessionReportFailed(report.sessionId, text);
          await sink?.gaveUp?.(this.env, report, text);
        }
        return "failed";
      }
      await this.store.retryAt(report.idempotencyKey, now + backoffDelayMs(report.attempts, this.options.policy, this.random), message);
      return "retried";
    }
    if (progress) await this.store.markDelivered(report.idempotencyKey, now, report.revision ?? 0, JSON.stringify(outcome));
    else await this.store.markDelivered(report.idempotencyKey, now);
    return "delivered";
  }

  /** A step that could not be shown is retried briefly, then dropped quietly: the final report still follows. */
  private async progressFailed(report: OutboxReport, now: number, message: string): Promise<keyof DrainSummary> {
    if (report.attempts >= Math.min(PROGRESS_MAX_ATTEMPTS, this.options.maxAttempts)) {
      await this.store.markFailed(report.idempotencyKey, `gave up after ${report.attempts} attempts: ${message}`);
      log.info("a progress report to a session's origin was dropped", { key: report.idempotencyKey, error: message });
      return "failed";
    }
    await this.store.retryAt(report.idempotencyKey, now + backoffDelayMs(report.attempts, this.options.policy, this.random), message);
    return "retried";
  }
}
