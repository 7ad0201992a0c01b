import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { log } from "../log";
import { imageDeps, imageTick } from "../repository-images";
import { POOL_PUSH_INTERVAL_MS, pushPoolTargets } from "../sandbox-pool/targets";
import { tick, type TickSummary } from "./scheduler";

/** The one scheduler; every caller reaches the same object, so its alarm is the only clock. */
const SCHEDULER_NAME = "global";
/** After a wake that failed (D1 unreachable), try again this soon. */
const RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * Wakes schedules and the outbox with one Durable Object alarm, set to the earliest thing due.
 * Alarms fire under `wrangler dev` with no extra command (Worker cron triggers do not), persist
 * across restarts, and run one at a time, so a wake never overlaps another. A deployed Worker's
 * cron trigger calls `tick` as a safety sweep.
 */
export class TriggerScheduler extends DurableObject<Env> {
  /** Makes sure the alarm fires no later than `at`. */
  async arm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(Math.max(at, Date.now()));
  }

  /** One wake at `now`, then the alarm re-armed for what is due next. Tests pass their own clock. */
  async tick(now: number = Date.now()): Promise<TickSummary> {
    const summary = await tick(this.env, now);
    // The warm pool's targets ride on the same alarm: pushed each wake, and every minute while any
    // repository is pooled (the gateway's pool follows D1's sizes and recent use).
    const pooled = await pushPoolTargets(this.env, now).catch((error: unknown) => {
      log.warn("pool targets not pushed", { error });
      return 0;
    });
    const poolWake = pooled > 0 ? now + POOL_PUSH_INTERVAL_MS : null;
    // Repository images too: rebuilt every 30 minutes for active repositories, followed while they build.
    const images = await imageTick(imageDeps(this.env), now).catch((error: unknown) => {
      log.warn("repository images not scheduled", { error });
      return { nextWakeAt: null };
    });
    const wakes = [summary.nextWakeAt, poolWake, images.nextWakeAt].filter((at): at is number => at !== null);
    await this.rearm(wakes.length > 0 ? Math.min(...wakes) : null);
    return summary;
  }

  override async alarm(): Promise<void> {
    try {
      await this.tick(Date.now());
    } catch (error) {
      log.error("trigger scheduler wake failed", { error });
      await this.ctx.storage.setAlarm(Date.now() + RETRY_AFTER_FAILURE_MS);
    }
  }

  private async rearm(at: number | null): Promise<void> {
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.max(at, Date.now()));
  }
}

export function schedulerStub(env: Env): DurableObjectStub<TriggerScheduler> {
  return env.TRIGGER_SCHEDULER.get(env.TRIGGER_SCHEDULER.idFromName(SCHEDULER_NAME));
}

/** Asks the scheduler to wake by `at` (something became due: a report, a schedule changed). */
export async function wakeScheduler(env: Env, at: number): Promise<void> {
  await schedulerStub(env).arm(at);
}
