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

  /** Keys of pending reports whose next attempt is due. */
  async dueKeys(now: number, limit: number): Promise<string[]> {
    const rows = await this.db
      .prepare(
        `SELECT idempotency_key FROM outbox_reports WHERE status = 'pending' AND next_attempt_at <= ?1
           AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY next_attempt_at LIMIT ?2`,
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

  /** Marks a report delivered, once: false if it already was (or failed for good). */
  async markDelivered(key: string, now: number): Promise<boolean> {
    const result = await this.db
      .prepare(
        "UPDATE outbox_reports SET status = 'delivered', delivered_at = ?2, lease_until = NULL, last_error = NULL WHERE idempotency_key = ?1 AND status = 'pending'",
      )
      .bind(key, now)
      .run();
    return result.meta.changes === 1;
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
