import { type AutomationRun, RunStatus, RunTrigger } from "@lookout/protocol";
import { z } from "zod";

const RunRow = z.object({
  id: z.string(),
  automation_id: z.string().nullable(),
  delivery_id: z.string(),
  trigger: RunTrigger,
  status: RunStatus,
  reason: z.string().nullable(),
  session_id: z.string().nullable(),
  prompt_id: z.string().nullable(),
  follow_up: z.number().int(),
  dedupe_key: z.string().nullable(),
  actor_user_id: z.string().nullable(),
  scheduled_for: z.number().nullable(),
  report_error: z.string().nullable(),
  created_at: z.number(),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
});

/** A run as the triggers see it: the DTO plus what only the server needs. */
export interface RunRecord extends AutomationRun {
  deliveryRecordId: string;
  promptId: string | null;
  actorUserId: string | null;
  startedAt: number | null;
}

function fromRow(row: unknown): RunRecord {
  const r = RunRow.parse(row);
  return {
    id: r.id,
    automationId: r.automation_id,
    trigger: r.trigger,
    status: r.status,
    reason: r.reason,
    sessionId: r.session_id,
    followUp: r.follow_up === 1,
    dedupeKey: r.dedupe_key,
    scheduledFor: r.scheduled_for,
    reportError: r.report_error,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    deliveryRecordId: r.delivery_id,
    promptId: r.prompt_id,
    actorUserId: r.actor_user_id,
    startedAt: r.started_at,
  };
}

/** Strips what only the server needs. */
export function runView(run: RunRecord): AutomationRun {
  return {
    id: run.id,
    automationId: run.automationId,
    trigger: run.trigger,
    status: run.status,
    reason: run.reason,
    sessionId: run.sessionId,
    followUp: run.followUp,
    dedupeKey: run.dedupeKey,
    scheduledFor: run.scheduledFor,
    reportError: run.reportError,
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
  };
}

export interface NewRun {
  id: string;
  automationId: string | null;
  deliveryRecordId: string;
  trigger: RunTrigger;
  dedupeKey: string | null;
  actorUserId: string | null;
  scheduledFor: number | null;
  now: number;
}

/** The caps a new session must fit under; each is checked in the same statement that reserves it. */
export interface RunCaps {
  /** Runs of this automation in flight at once; null for runs without an automation. */
  maxConcurrentRuns: number | null;
  /** New sessions started by any trigger in the last hour. */
  maxNewSessionsPerHour: number;
  /** Sandboxes starting or running across Lookout (trigger runs still starting count as one each). */
  maxRunningSandboxes: number;
}

const HOUR_MS = 60 * 60 * 1000;

/** Runs made by trigger deliveries, and the subjects (dedupe keys) their sessions own. */
export class TriggerRunStore {
  constructor(private readonly db: D1Database) {}

  async get(id: string): Promise<RunRecord | null> {
    const row = await this.db.prepare("SELECT * FROM trigger_runs WHERE id = ?").bind(id).first();
    return row ? fromRow(row) : null;
  }

  /**
   * Inserts a run as `starting` if every cap has room, else as `skipped` with the first cap that was
   * full. One statement does the counting and the insert, so concurrent deliveries cannot all see
   * the last free slot: D1 runs statements one at a time, and a storm never starts more than the cap.
   */
  async reserve(run: NewRun, caps: RunCaps): Promise<{ status: "starting" | "skipped"; reason: string | null }> {
    const reserve = this.db
      .prepare(
        `INSERT INTO trigger_runs (id, automation_id, delivery_id, trigger, status, reason, dedupe_key, actor_user_id, scheduled_for, created_at)
         SELECT ?1, ?2, ?3, ?4,
           CASE WHEN c.mine >= ?9 OR c.hour >= ?10 OR c.sandboxes >= ?11 THEN 'skipped' ELSE 'starting' END,
           CASE
             WHEN c.mine >= ?9 THEN 'overlap: ' || c.mine || ' run(s) of this automation still in progress (at most ' || CAST(?9 AS INTEGER) || ' at once)'
             WHEN c.hour >= ?10 THEN 'cap: ' || c.hour || ' sessions started by triggers in the last hour (at most ' || CAST(?10 AS INTEGER) || ')'
             WHEN c.sandboxes >= ?11 THEN 'cap: ' || c.sandboxes || ' sandboxes starting or running (at most ' || CAST(?11 AS INTEGER) || ')'
           END,
           ?5, ?6, ?7, ?8
         FROM (SELECT
           (SELECT COUNT(*) FROM trigger_runs WHERE automation_id = ?2 AND status IN ('starting', 'running')) AS mine,
           (SELECT COUNT(*) FROM trigger_runs WHERE follow_up = 0 AND status NOT IN ('skipped', 'duplicate') AND created_at > ?12) AS hour,
           (SELECT COUNT(*) FROM trigger_runs WHERE follow_up = 0 AND status = 'starting')
             + (SELECT COUNT(*) FROM sessions WHERE status IN ('starting', 'running') AND archived = 0) AS sandboxes) AS c
         RETURNING status, reason`,
      )
      .bind(
        run.id,
        run.automationId,
        run.deliveryRecordId,
        run.trigger,
        run.dedupeKey,
        run.actorUserId,
        run.scheduledFor,
        run.now,
        caps.maxConcurrentRuns,
        caps.maxNewSessionsPerHour,
        caps.maxRunningSandboxes,
        run.now - HOUR_MS,
      );
    // A skipped run settles its delivery in the same round trip: a storm is mostly skipped runs.
    const settleDelivery = this.db
      .prepare(
        `UPDATE trigger_deliveries SET status = 'skipped', run_id = r.id, reason = r.reason
         FROM (SELECT id, reason FROM trigger_runs WHERE id = ?2 AND status = 'skipped') AS r WHERE trigger_deliveries.id = ?1`,
      )
      .bind(run.deliveryRecordId, run.id);
    const [inserted] = await this.db.batch<{ status: "starting" | "skipped"; reason: string | null }>([reserve, settleDelivery]);
    const row = inserted?.results[0];
    if (!row) throw new Error(`run ${run.id} was not inserted`);
    return row;
  }

  /** Records a run that starts nothing: skipped, a duplicate, or one that failed before it could start. */
  async insertSettled(run: NewRun, status: "skipped" | "duplicate" | "failed", reason: string): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO trigger_runs (id, automation_id, delivery_id, trigger, status, reason, dedupe_key, actor_user_id, scheduled_for,
           created_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)`,
      )
      .bind(
        run.id,
        run.automationId,
        run.deliveryRecordId,
        run.trigger,
        status,
        reason,
        run.dedupeKey,
        run.actorUserId,
        run.scheduledFor,
        run.now,
      )
      .run();
  }

  /** Records a run that joined an existing session as a follow-up prompt. */
  async insertFollowUp(run: NewRun, sessionId: string, promptId: string): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO trigger_runs (id, automation_id, delivery_id, trigger, status, session_id, prompt_id, follow_up, dedupe_key,
           actor_user_id, scheduled_for, created_at, started_at)
         VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, 1, ?7, ?8, ?9, ?10, ?10)`,
      )
      .bind(
        run.id,
        run.automationId,
        run.deliveryRecordId,
        run.trigger,
        sessionId,
        promptId,
        run.dedupeKey,
        run.actorUserId,
        run.scheduledFor,
        run.now,
      )
      .run();
  }

  async markRunning(id: string, sessionId: string, promptId: string | null, now: number): Promise<void> {
    await this.db
      .prepare(
        "UPDATE trigger_runs SET status = 'running', session_id = ?2, prompt_id = ?3, started_at = ?4 WHERE id = ?1 AND status = 'starting'",
      )
      .bind(id, sessionId, promptId, now)
      .run();
  }

  /**
   * Settles a run still in flight. False when it had already settled, so a report delivered twice
   * (or a timeout racing a report) changes it once.
   */
  async finish(id: string, status: "succeeded" | "failed", reason: string | null, now: number): Promise<boolean> {
    const result = await this.db
      .prepare("UPDATE trigger_runs SET status = ?2, reason = ?3, finished_at = ?4 WHERE id = ?1 AND status IN ('starting', 'running')")
      .bind(id, status, reason, now)
      .run();
    return result.meta.changes === 1;
  }

  async setReportError(id: string, error: string): Promise<void> {
    await this.db.prepare("UPDATE trigger_runs SET report_error = ?2 WHERE id = ?1").bind(id, error).run();
  }

  /** The run a prompt belongs to: the one that started the session with it, or that sent it as a follow-up. */
  async forPrompt(sessionId: string, promptId: string): Promise<RunRecord | null> {
    const row = await this.db
      .prepare("SELECT * FROM trigger_runs WHERE session_id = ? AND prompt_id = ? ORDER BY created_at DESC LIMIT 1")
      .bind(sessionId, promptId)
      .first();
    return row ? fromRow(row) : null;
  }

  /** Newest first (run ids sort by creation time), paged after the last id of the previous page. */
  async listForAutomation(automationId: string, before: string | null, limit: number): Promise<RunRecord[]> {
    const rows = await this.db
      .prepare("SELECT * FROM trigger_runs WHERE automation_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3")
      .bind(automationId, before, limit)
      .all();
    return rows.results.map(fromRow);
  }

  /** Runs in flight that began before `startedBefore` (running) or `createdBefore` (still starting). */
  async overdue(createdBefore: number, startedBefore: number): Promise<RunRecord[]> {
    const rows = await this.db
      .prepare(
        `SELECT * FROM trigger_runs WHERE (status = 'starting' AND created_at <= ?1) OR (status = 'running' AND started_at <= ?2)
         ORDER BY created_at LIMIT 100`,
      )
      .bind(createdBefore, startedBefore)
      .all();
    return rows.results.map(fromRow);
  }

  /** The earliest time anything in flight began: starting runs by creation, running ones by start. */
  async oldestInFlight(): Promise<{ starting: number | null; running: number | null }> {
    const row = await this.db
      .prepare(
        `SELECT (SELECT MIN(created_at) FROM trigger_runs WHERE status = 'starting') AS starting,
                (SELECT MIN(started_at) FROM trigger_runs WHERE status = 'running') AS running`,
      )
      .first<{ starting: number | null; running: number | null }>();
    return { starting: row?.starting ?? null, running: row?.running ?? null };
  }
}
