import { LookoutError } from "@lookout/protocol";

/** Wrong login tokens one client may send per window before the next ones get 429. */
export const MAX_FAILED_LOGINS_PER_WINDOW = 10;
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Clients the limiter remembers at most; beyond that the oldest windows are forgotten. */
const MAX_TRACKED_CLIENTS = 10_000;

/**
 * Counts wrong login tokens per client in fixed windows, in the isolate's memory (a deployment
 * with many isolates gets one budget per isolate). It only ever judges failures: the token is
 * checked first, and the right one signs in whatever this says, so nobody can lock the admin out
 * by guessing. That also means it cannot stop a guesser; the defence is the token's 256 random
 * bits. What it does is turn a flood of guesses into cheap 429s and keep them out of the log.
 */
export class LoginAttemptLimiter {
  private readonly failures = new Map<string, { count: number; windowStartMs: number }>();

  constructor(
    private readonly maxFailures: number = MAX_FAILED_LOGINS_PER_WINDOW,
    private readonly windowMs: number = LOGIN_WINDOW_MS,
  ) {}

  /**
   * Records a wrong token from `client`. Throws `RATE_LIMITED` instead when the client has already
   * used up its failures for the current window.
   */
  recordFailure(client: string, now: number): void {
    const entry = this.failures.get(client);
    if (entry && now - entry.windowStartMs < this.windowMs) {
      if (entry.count >= this.maxFailures) {
        const waitMinutes = Math.ceil((entry.windowStartMs + this.windowMs - now) / 60_000);
        throw new LookoutError("RATE_LIMITED", `Too many wrong sign-in tokens from here; try again in ${waitMinutes} min.`);
      }
      entry.count += 1;
      return;
    }
    if (!entry && this.failures.size >= MAX_TRACKED_CLIENTS) {
      // Maps iterate in insertion order, so the first key is the oldest window.
      const oldest = this.failures.keys().next();
      if (!oldest.done) this.failures.delete(oldest.value);
    }
    // Re-inserted, so an expired window's client moves to the back of the eviction order.
    this.failures.delete(client);
    this.failures.set(client, { count: 1, windowStartMs: now });
  }
}
