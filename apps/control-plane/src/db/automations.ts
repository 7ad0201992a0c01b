import { type Automation, AutomationTrigger, ModelRef, ReasoningEffort, TriageMode } from "@lookout/protocol";
import { z } from "zod";

/** Failed runs in a row that pause an automation. */
export const AUTO_PAUSE_AFTER_FAILURES = 3;

const AutomationRow = z.object({
  id: z.string(),
  name: z.string(),
  instructions: z.string(),
  repository_id: z.string(),
  base_branch: z.string().nullable(),
  model: ModelRef.nullable(),
  reasoning_effort: ReasoningEffort.nullable(),
  trigger_kind: z.enum(["cron", "webhook", "sentry", "manual"]),
  cron_expression: z.string().nullable(),
  time_zone: z.string().nullable(),
  triage: TriageMode,
  max_concurrent_runs: z.number().int(),
  enabled: z.number().int(),
  paused_reason: z.string().nullable(),
  consecutive_failures: z.number().int(),
  next_run_at: z.number().nullable(),
  owner_id: z.string(),
  owner_name: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
});

/** Maps an `automations` row to the DTO; the one place this table's snake_case meets camelCase. */
function fromRow(row: unknown): Automation {
  const r = AutomationRow.parse(row);
  const trigger = AutomationTrigger.parse(
    r.trigger_kind === "cron" ? { kind: "cron", expression: r.cron_expression, timeZone: r.time_zone } : { kind: r.trigger_kind },
  );
  return {
    id: r.id,
    name: r.name,
    instructions: r.instructions,
    repositoryId: r.repository_id,
    baseBranch: r.base_branch,
    model: r.model,
    reasoningEffort: r.reasoning_effort,
    trigger,
    triage: r.triage,
    maxConcurrentRuns: r.max_concurrent_runs,
    enabled: r.enabled === 1,
    pausedReason: r.paused_reason,
    consecutiveFailures: r.consecutive_failures,
    nextRunAt: r.next_run_at,
    ownerId: r.owner_id,
    ownerName: r.owner_name,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function triggerColumns(trigger: AutomationTrigger): [string, string | null, string | null] {
  return trigger.kind === "cron" ? ["cron", trigger.expression, trigger.timeZone] : [trigger.kind, null, null];
}

/** Automations in D1. Scheduling decisions (next slot, auto-pause) are made by callers; this stores them. */
export class AutomationStore {
  constructor(private readonly db: D1Database) {}

  async get(id: string): Promise<Automation | null> {
    const row = await this.db.prepare("SELECT * FROM automations WHERE id = ?").bind(id).first();
    return row ? fromRow(row) : null;
  }

  async list(): Promise<Automation[]> {
    const rows = await this.db.prepare("SELECT * FROM automations ORDER BY created_at DESC, id DESC").all();
    return rows.results.map(fromRow);
  }

  async insert(automation: Automation): Promise<void> {
    const [kind, expression, timeZone] = triggerColumns(automation.trigger);
    await this.db
      .prepare(
        `INSERT INTO automations (id, name, instructions, repository_id, base_branch, model, reasoning_effort, trigger_kind,
           cron_expression, time_zone, triage, max_concurrent_runs, enabled, paused_reason, consecutive_failures, next_run_at,
           owner_id, owner_name, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)`,
      )
      .bind(
        automation.id,
        automation.name,
        automation.instructions,
        automation.repositoryId,
        automation.baseBranch,
        automation.model,
        automation.reasoningEffort,
        kind,
        expression,
        timeZone,
        automation.triage,
        automation.maxConcurrentRuns,
        automation.enabled ? 1 : 0,
        automation.pausedReason,
        automation.consecutiveFailures,
        automation.nextRunAt,
        automation.ownerId,
        automation.ownerName,
        automation.createdAt,
        automation.updatedAt,
      )
      .run();
  }

  /** Writes every editable field (the caller merged the change into `automation`). */
  async update(automation: Automation): Promise<void> {
    const [kind, expression, timeZone] = triggerColumns(automation.trigger);
    await this.db
      .prepare(
        `UPDATE automations SET name = ?2, instructions = ?3, repository_id = ?4, base_branch = ?5, model = ?6, reasoning_effort = ?7,
           trigger_kind = ?8, cron_expression = ?9, time_zone = ?10, triage = ?11, max_concurrent_runs = ?12, enabled = ?13,
           paused_reason = ?14, consecutive_failures = ?15, next_run_at = ?16, updated_at = ?17
         WHERE id = ?1`,
      )
      .bind(
        automation.id,
        automation.name,
        automation.instructions,
        automation.repositoryId,
        automation.baseBranch,
        automation.model,
        automation.reasoningEffort,
        kind,
        expression,
        timeZone,
        automation.triage,
        automation.maxConcurrentRuns,
        automation.enabled ? 1 : 0,
        automation.pausedReason,
        automation.consecutiveFailures,
        automation.nextRunAt,
        automation.updatedAt,
      )
      .run();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.db.prepare("DELETE FROM automations WHERE id = ?").bind(id).run();
    return result.meta.changes === 1;
  }

  /** Enabled schedules whose slot has come, earliest first. */
  async due(now: number, limit: number): Promise<Automation[]> {
    const rows = await this.db
      .prepare("SELECT * FROM automations WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at LIMIT ?")
      .bind(now, limit)
      .all();
    return rows.results.map(fromRow);
  }

  /** The earliest upcoming slot of any enabled schedule. */
  async nextDueAt(): Promise<number | null> {
    const row = await this.db
      .prepare("SELECT MIN(next_run_at) AS at FROM automations WHERE enabled = 1 AND next_run_at IS NOT NULL")
      .first<{ at: number | null }>();
    return row?.at ?? null;
  }

  /**
   * Moves a schedule from the slot it was due at to the next one. Only one caller wins for a given
   * slot (compare and set), so a slot fires once even if two sweeps reach it together.
   */
  async advance(id: string, dueAt: number, nextRunAt: number | null, now: number): Promise<boolean> {
    const result = await this.db
      .prepare("UPDATE automations SET next_run_at = ?3, updated_at = ?4 WHERE id = ?1 AND enabled = 1 AND next_run_at = ?2")
      .bind(id, dueAt, nextRunAt, now)
      .run();
    return result.meta.changes === 1;
  }

  /**
   * Counts a failed run; the `AUTO_PAUSE_AFTER_FAILURES`th in a row pauses the automation with a
   * reason naming the last failure. Returns whether this call paused it.
   */
  async recordFailure(id: string, reason: string, now: number): Promise<boolean> {
    const pausedReason = `Paused after ${AUTO_PAUSE_AFTER_FAILURES} failed runs in a row; the last: ${reason}`;
    const row = await this.db
      .prepare(
        `UPDATE automations SET consecutive_failures = consecutive_failures + 1,
           enabled = CASE WHEN consecutive_failures + 1 >= ?2 THEN 0 ELSE enabled END,
           paused_reason = CASE WHEN consecutive_failures + 1 >= ?2 AND enabled = 1 THEN ?3 ELSE paused_reason END,
           next_run_at = CASE WHEN consecutive_failures + 1 >= ?2 THEN NULL ELSE next_run_at END,
           updated_at = ?4
         WHERE id = ?1
         RETURNING enabled, consecutive_failures`,
      )
      .bind(id, AUTO_PAUSE_AFTER_FAILURES, pausedReason, now)
      .first<{ enabled: number; consecutive_failures: number }>();
    return row !== null && row.enabled === 0 && row.consecutive_failures === AUTO_PAUSE_AFTER_FAILURES;
  }

  async recordSuccess(id: string, now: number): Promise<void> {
    await this.db
      .prepare("UPDATE automations SET consecutive_failures = 0, updated_at = ?2 WHERE id = ?1 AND consecutive_failures <> 0")
      .bind(id, now)
      .run();
  }
}
