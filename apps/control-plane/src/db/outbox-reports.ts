import { SessionOutcome } from "@lookout/protocol";

export type ReportStatus = "pending" | "delivered" | "failed";

export interface OutboxReport {
  idempotencyKey: string;
  sessionId: string;
  outcome: SessionOutcome;
  status: ReportStatus;
  /** Delivery attempts made so far (each claim counts one). */
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  /** How many times a progress report was rewritten by a newer step (0 for other reports). */
  revision?: number;
  /** For a progress report, the step its origin last received (an earlier revision), if any. */
  previouslyDelivered?: SessionOutcome | null;
}

interface ReportRow {
  idempotency_key: string;
  session_id: string;
  outcome_json: string;
  status: ReportStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
  revision: number;
  delivered_json: string | null;
}

function fromRow(r: ReportRow): OutboxReport {
  return {
    idempotencyKey: r.idempotency_key,
    sessionId: r.session_id,
    outcome: SessionOutcome.parse(JSON.parse(r.outcome_json)),
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
    revision: r.revision,
    previouslyDelivered: r.delivered_json === null ? null : SessionOutcome.parse(JSON.parse(r.delivered_json)),
  };
}

/**
 * The durable outbox of reports to sessions' origins. Its state lives only here, so a drainer that
 * starts after a restart picks up exactly where the last one stopped.
 */
export class OutboxReportStore {
  constructor(private readonly db: D1Database) {}

  /** Adds a report; false (and nothing changes) when one with this key is already queued or sent. */
  async enqueue(key: string, outcome: SessionOutcome, now: number): Promise<boolean> {
    const result = await this.db
      .prepare(
        `INSERT INTO outbox_reports (idempotency_key, session_id, origin_kind, outcome_json, status, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5) ON CONFLICT (idempotency_key) DO NOTHING`,
      )
      .bind(key, outcome.sessionId, outcome.origin.kind, JSON.stringify(outcome), now)
      .run();
    return result.meta.changes === 1;
  }

  async get(key: string): Promise<OutboxReport | null> {
    const row = await this.db.prepare("SELECT * FROM outbox_reports WHERE idempotency_key = ?").bind(key).first<ReportRow>();
    return row ? fromRow(row) : null;
  }

  /**
   * Queues a running prompt's step under `key`, one row per session and prompt: an undelivered step
   * is replaced, a delivered one makes way for a new delivery, and an older step (by `at`) never
   * replaces a newer one. False when the prompt's final report (`finalKey`) is queued already: a
   * step must not follow it.
   */
  async upsertProgress(key: string, finalKey: string, outcome: SessionOutcome, now: number): Promise<boolean> {
    const result = await this.db
      .prepare(
        `INSERT INTO outbox_reports (idempotency_key, session_id, origin_kind, outcome_json, status, next_attempt_at, created_at, is_progress)
         SELECT ?1, ?2, ?3, ?4, 'pending', ?5, ?5, 1 WHERE NOT EXISTS (SELECT 1 FROM outbox_reports WHERE idempotency_key = ?6)
         ON CONFLICT (idempotency_key) DO UPDATE SET outcome_json = excluded.outcome_json, status = 'pending', attempts = 0,
           next_attempt_at = excluded.next_attempt_at, last_error = NULL, revision = revision + 1
         WHERE json_extract(excluded.outcome_json, '$.at') >= json_extract(outbox_reports.outcome_json, '$.at')`,
      )
      .bind(key, outcome.sessionId, outcome.origin.kind, JSON.stringify(outcome), now, finalKey)
      .run();
    return result.meta.changes === 1;
  }

  /**
   * Closes a prompt's progress report that is still waiting, because its final report is queued: the
   * step is out of date, so nothing is sent. A delivery in flight (leased) finishes first.
   */
  async supersedeProgress(key: string, now: number): Promise<void> {
    await this.db
      .prepare(
        `UPDATE outbox_reports SET status = 'delivered', lease_until = NULL, last_error = 'superseded by the final report'
         WHERE idempotency_key = ?1 AND status = 'pending' AND (lease_until IS NULL OR lease_until <= ?2)`,
      )
      .bind(key, now)
      .run();
  }

  /** Whether a report with this key was ever queued. */
  async exists(key: string): Promise<boolean> {
    return (await this.db.prepare("SELECT 1 AS found FROM outbox_reports WHERE idempotency_key = ?").bind(key).first()) !== null;
  }

  /** Keys of pending reports whose next attempt is due, final reports before progress. */
  async dueKeys(now: number, limit: number): Promise<string[]> {
    const rows = await this.db
      .prepare(
        `SELECT idempotency_key FROM outbox_reports WHERE status = 'pending' AND next_attempt_at <= ?1
           AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY is_progress, next_attempt_at LIMIT ?2`,
      )
      .bind(now, limit)
      .all<{ idempotency_key: string }>();
    return rows.results.map((row) => row.idempotency_key);
  }

  /**
   * Takes a due report for one attempt until `leaseUntil`, counting the attempt. Null when it is not
   * pending, not due, or another drainer holds it: two drainers never send the same report at once.
   */
  async claim(key: string, now: number, leaseUntil: number): Promise<OutboxReport | null> {
    const row = await this.db
      .prepare(
        `UPDATE outbox_reports SET attempts = attempts + 1, lease_until = ?3
         WHERE idempotency_key = ?1 AND status = 'pending' AND next_attempt_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2)
         RETURNING *`,
      )
      .bind(key, now, leaseUntil)
      .first<ReportRow>();
    return row ? fromRow(row) : null;
  }

  /**
   * Marks a report delivered, once: false if it already was (or failed for good). With `revision`
   * (a progress report), only that revision: a newer step written meanwhile stays pending, released
   * for its own delivery, and the step just sent is remembered as the one the origin has.
   */
  async markDelivered(key: string, now: number, revision?: number, deliveredJson?: string): Promise<boolean> {
    if (revision === undefined) {
      const result = await this.db
        .prepare(
          "UPDATE outbox_reports SET status = 'delivered', delivered_at = ?2, lease_until = NULL, last_error = NULL WHERE idempotency_key = ?1 AND status = 'pending'",
        )
        .bind(key, now)
        .run();
      return result.meta.changes === 1;
    }
    const [delivered] = await this.db.batch([
      this.db
        .prepare(
          `UPDATE outbox_reports SET status = 'delivered', delivered_at = ?2, lease_until = NULL, last_error = NULL, delivered_json = outcome_json
           WHERE idempotency_key = ?1 AND status = 'pending' AND revision = ?3`,
        )
        .bind(key, now, revision),
      this.db
        .prepare(
          "UPDATE outbox_reports SET lease_until = NULL, delivered_json = ?3 WHERE idempotency_key = ?1 AND status = 'pending' AND revision != ?2",
        )
        .bind(key, revision, deliveredJson ?? null),
    ]);
    return delivered?.meta.changes === 1;
  }

  /** Schedules the next attempt after a failure. */
  async retryAt(key: string, at: number, error: string): Promise<void> {
    await this.db
      .prepare(
        "UPDATE outbox_reports SET next_attempt_at = ?2, lease_until = NULL, last_error = ?3 WHERE idempotency_key = ?1 AND status = 'pending'",
      )
      .bind(key, at, error)
      .run();
  }

  /** Gives up after the last attempt; the report stays, `failed`, with its last error. */
  async markFailed(key: string, error: string): Promise<boolean> {
    const result = await this.db
      .prepare(
        "UPDATE outbox_reports SET status = 'failed', lease_until = NULL, last_error = ?2 WHERE idempotency_key = ?1 AND status = 'pending'",
      )
      .bind(key, error)
      .run();
    return result.meta.changes === 1;
  }

  /** When the drainer next has something to do: the earliest pending attempt or lease expiry. */
  async nextAttemptAt(): Promise<number | null> {
    const row = await this.db
      .prepare("SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) AS at FROM outbox_reports WHERE status = 'pending'")
      .first<{ at: number | null }>();
    return row?.at ?? null;
  }

  /** Records on the session's index row that a report to its origin failed for good. */
  async markSessionReportFailed(sessionId: string, error: string): Promise<void> {
    await this.db.prepare("UPDATE sessions SET report_error = ?2 WHERE id = ?1").bind(sessionId, error).run();
  }
}
