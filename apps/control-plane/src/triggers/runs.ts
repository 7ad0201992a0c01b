import { AutomationStore } from "../db/automations";
import { type RunRecord, TriggerRunStore } from "../db/trigger-runs";
import { log } from "../log";

export interface Settlement {
  status: "succeeded" | "failed";
  reason: string | null;
  /**
   * Whether a failure counts toward auto-pause. Failed, timed out and could-not-start runs do; a run a
   * person stopped does not (and does not reset the count either).
   */
  countsAsFailure: boolean;
}

/**
 * Settles a run in flight and feeds its automation's failure count: three failures in a row pause
 * it, a success resets the count. Settling an already settled run changes nothing, so a report that
 * arrives twice, or a timeout racing a report, is counted once.
 */
export async function settleRun(db: D1Database, run: RunRecord, settlement: Settlement, now: number): Promise<boolean> {
  const changed = await new TriggerRunStore(db).finish(run.id, settlement.status, settlement.reason, now);
  if (!changed || !run.automationId) return changed;
  const automations = new AutomationStore(db);
  if (settlement.status === "succeeded") {
    await automations.recordSuccess(run.automationId, now);
  } else if (settlement.countsAsFailure) {
    const paused = await automations.recordFailure(run.automationId, settlement.reason ?? "the run failed", now);
    if (paused) log.warn("automation paused after repeated failures", { automationId: run.automationId, reason: settlement.reason });
  }
  return true;
}
