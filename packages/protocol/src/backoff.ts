/**
 * How long to wait before retrying: an exponentially growing ceiling, `baseMs · 2^(attempt-1)`
 * capped at `maxMs`, then jitter so many clients that failed together do not retry in step.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /**
   * `full`: anywhere in [0, ceiling] (spreads load best; may retry almost at once).
   * `equal`: in [ceiling/2, ceiling] (spread out, yet never instantly).
   * `none`: exactly the ceiling (deterministic, for server-side schedules).
   */
  jitter: "full" | "equal" | "none";
}

/** Past this many doublings every sane policy is at its cap; stopping here keeps the maths finite. */
const MAX_DOUBLINGS = 52;

/**
 * The delay in whole milliseconds before retry number `attempt` (1 = the first retry).
 * `random` returns a number in [0, 1); tests pass a fixed one.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`backoff attempt must be a positive integer (1 = the first retry), got ${attempt}`);
  }
  if (!(policy.baseMs >= 0) || !(policy.maxMs >= 0)) {
    throw new RangeError(`backoff baseMs and maxMs must be non-negative numbers, got ${policy.baseMs} and ${policy.maxMs}`);
  }
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, MAX_DOUBLINGS));
  switch (policy.jitter) {
    case "none":
      return Math.round(ceiling);
    case "equal":
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    case "full":
      return Math.round(random() * ceiling);
  }
}
