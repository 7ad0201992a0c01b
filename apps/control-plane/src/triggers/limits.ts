import { LookoutError } from "@lookout/protocol";
import { z } from "zod";
import type { Env } from "../env";

/**
 * The caps and timings every trigger obeys. Defaults suit one team on one machine; a deployment
 * overrides any of them with the `TRIGGER_LIMITS` JSON variable.
 */
export const TriggerLimits = z
  .object({
    /** New sessions all triggers together may start in any hour. */
    maxNewSessionsPerHour: z.number().int().min(0).default(30),
    /** Sandboxes starting or running across Lookout before triggers start no more. */
    maxRunningSandboxes: z.number().int().min(0).default(10),
    /** The shortest gap a cron schedule may have between two runs. */
    minCronIntervalMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(15),
    /** A run whose session has not settled its prompt by then fails as timed out. */
    runTimeoutMinutes: z.number().int().min(1).default(120),
    /** A run still creating its session after this long failed to start (its Worker died mid-way). */
    startTimeoutMinutes: z.number().int().min(1).default(10),
    /** An idle session takes follow-ups for its subject for this long after its last activity. */
    triageIdleWindowMinutes: z
      .number()
      .int()
      .min(0)
      .default(24 * 60),
  })
  .strict();
export type TriggerLimits = z.infer<typeof TriggerLimits>;

const MINUTE_MS = 60_000;

/** Reads `TRIGGER_LIMITS`; a value that does not parse is a configuration error, not a silent default. */
export function triggerLimits(env: Pick<Env, "TRIGGER_LIMITS">): TriggerLimits {
  let raw: unknown = {};
  if (env.TRIGGER_LIMITS) {
    try {
      raw = JSON.parse(env.TRIGGER_LIMITS);
    } catch {
      throw new LookoutError("INTERNAL", "TRIGGER_LIMITS is not valid JSON; fix the variable and restart.");
    }
  }
  const parsed = TriggerLimits.safeParse(raw);
  if (!parsed.success)
    throw new LookoutError(
      "INTERNAL",
      `TRIGGER_LIMITS is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  return parsed.data;
}

export function minutes(value: number): number {
  return value * MINUTE_MS;
}
