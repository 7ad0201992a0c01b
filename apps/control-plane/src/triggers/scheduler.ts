import { type Automation, LookoutError } from "@lookout/protocol";
import { AutomationStore } from "../db/automations";
import { TriggerDeliveryStore } from "../db/trigger-deliveries";
import { TriggerRunStore } from "../db/trigger-runs";
import type { Env } from "../env";
import { expireSlackPickers, nextSlackPickerExpiry } from "../integrations/slack/picker-expiry";
import { log } from "../log";
import { nextRunAfter } from "./cron";
import { dispatchTrigger } from "./dispatch";
import { minutes, triggerLimits } from "./limits";
import { type DrainSummary, OutboxDrainer } from "./outbox";
import { settleRun } from "./runs";
import type { DispatchResult } from "./types";

/**
 * What the scheduler does each time it wakes, free of the Durable Object so tests drive it with
 * their own clock: fire the schedules that are due, fail runs that overran, drain the outbox,
 * replace Slack pickers that expired, and say when to wake next.
 */

/** Schedules fired per wake; the rest fire on the next one, right after. */
const FIRE_BATCH = 25;

export interface TickSummary {
  fired: DispatchResult[];
  expired: number;
  drained: DrainSummary;
  /** When to wake again, or null when nothing is pending. */
  nextWakeAt: number | null;
}

export async function tick(env: Env, now: number, drainer: OutboxDrainer = new OutboxDrainer(env)): Promise<TickSummary> {
  const fired = await fireDueSchedules(env, now);
  const expired = await expireOverdueRuns(env, now);
  const drained = await drainer.drain(now);
  await expireSlackPickers(env, now);
  // Whatever is still due (a batch left over) makes the next wake immediate.
  return { fired, expired, drained, nextWakeAt: await nextWake(env, drainer) };
}

/**
 * Fires each enabled schedule whose slot has come, once. A schedule that missed several slots (the
 * Worker was down) fires once for all of them and moves on to the first slot after `now`. The slot
 * is advanced before the run starts, compare-and-set, so two sweeps cannot fire it twice.
 */
export async function fireDueSchedules(env: Env, now: number): Promise<DispatchResult[]> {
  const automations = new AutomationStore(env.DB);
  const results: DispatchResult[] = [];
  for (const automation of await automations.due(now, FIRE_BATCH)) {
    const dueAt = automation.nextRunAt;
    if (dueAt === null || automation.trigger.kind !== "cron") continue;
    let next: number | null;
    try {
      next = nextRunAfter(automation.trigger.expression, automation.trigger.timeZone, now);
    } catch (error) {
      await pauseBroken(automations, automation, error, now);
      continue;
    }
    if (!(await automations.advance(automation.id, dueAt, next, now))) continue;
    results.push(
      await dispatchTrigger(
        env,
        { ...automation, nextRunAt: next },
        {
          source: "cron",
          deliveryId: `slot:${dueAt}`,
          dedupeKey: null,
          actor: null,
          repositoryHint: null,
          instructions: null,
          untrusted: [],
          scheduledFor: dueAt,
        },
        now,
      ),
    );
  }
  return results;
}

/** A stored schedule that no longer parses (e.g. a time zone the runtime dropped) pauses, saying why. */
async function pauseBroken(automations: AutomationStore, automation: Automation, error: unknown, now: number): Promise<void> {
  const reason = `Paused: its schedule cannot be computed (${error instanceof LookoutError ? error.message : String(error)})`;
  log.warn("schedule cannot be computed", { automationId: automation.id, error });
  await automations.update({ ...automation, enabled: false, pausedReason: reason, nextRunAt: null, updatedAt: now });
}

/**
 * Fails runs that overran: still creating their session after the start timeout (the Worker died
 * mid-way), or with no report after the run timeout. Both count toward auto-pause. Deliveries
 * accepted but never processed for as long are failed too, which frees their ids for redelivery.
 */
export async function expireOverdueRuns(env: Env, now: number): Promise<number> {
  const limits = triggerLimits(env);
  await new TriggerDeliveryStore(env.DB).expireUnprocessed(now - minutes(limits.startTimeoutMinutes));
  const overdue = await new TriggerRunStore(env.DB).overdue(
    now - minutes(limits.startTimeoutMinutes),
    now - minutes(limits.runTimeoutMinutes),
  );
  let expired = 0;
  for (const run of overdue) {
    const reason =
      run.status === "starting"
        ? `could not start: no session after ${limits.startTimeoutMinutes} minutes`
        : `timed out: the session did not finish within ${limits.runTimeoutMinutes} minutes`;
    if (await settleRun(env.DB, run, { status: "failed", reason, countsAsFailure: true }, now)) expired += 1;
  }
  return expired;
}

/** The earliest of: the next schedule slot, the next outbox attempt, the next run or delivery deadline, the next picker expiry. */
export async function nextWake(env: Env, drainer: OutboxDrainer = new OutboxDrainer(env)): Promise<number | null> {
  const limits = triggerLimits(env);
  const inFlight = await new TriggerRunStore(env.DB).oldestInFlight();
  const unprocessed = await new TriggerDeliveryStore(env.DB).oldestUnprocessedAt();
  const candidates = [
    unprocessed === null ? null : unprocessed + minutes(limits.startTimeoutMinutes),
    await new AutomationStore(env.DB).nextDueAt(),
    await drainer.nextAttemptAt(),
    inFlight.starting === null ? null : inFlight.starting + minutes(limits.startTimeoutMinutes),
    inFlight.running === null ? null : inFlight.running + minutes(limits.runTimeoutMinutes),
    await nextSlackPickerExpiry(env),
  ].filter((at): at is number => at !== null);
  return candidates.length ? Math.min(...candidates) : null;
}
