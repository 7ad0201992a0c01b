import { LookoutError } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { LoginAttemptLimiter } from "../../src/auth/login-limiter";

const WINDOW_MS = 60_000;

/** The code `recordFailure` threw, or null when it let the failure count. */
function outcome(limiter: LoginAttemptLimiter, client: string, now: number): string | null {
  try {
    limiter.recordFailure(client, now);
    return null;
  } catch (error) {
    if (error instanceof LookoutError) return error.code;
    throw error;
  }
}

describe("LoginAttemptLimiter", () => {
  it("counts a client's failures up to the budget, then refuses the rest of the window", () => {
    const limiter = new LoginAttemptLimiter(3, WINDOW_MS);
    expect([0, 1, 2].map((offset) => outcome(limiter, "a", 1_000 + offset))).toEqual([null, null, null]);
    expect(outcome(limiter, "a", 1_003)).toBe("RATE_LIMITED");
    expect(outcome(limiter, "a", 1_000 + WINDOW_MS - 1)).toBe("RATE_LIMITED");
  });

  it("gives each client its own budget", () => {
    const limiter = new LoginAttemptLimiter(1, WINDOW_MS);
    expect(outcome(limiter, "a", 0)).toBeNull();
    expect(outcome(limiter, "a", 1)).toBe("RATE_LIMITED");
    expect(outcome(limiter, "b", 2)).toBeNull();
  });

  it("starts a fresh window once the old one has passed", () => {
    const limiter = new LoginAttemptLimiter(1, WINDOW_MS);
    expect(outcome(limiter, "a", 0)).toBeNull();
    expect(outcome(limiter, "a", WINDOW_MS - 1)).toBe("RATE_LIMITED");
    expect(outcome(limiter, "a", WINDOW_MS)).toBeNull();
    expect(outcome(limiter, "a", WINDOW_MS + 1)).toBe("RATE_LIMITED");
  });

  it("says how long to wait", () => {
    const limiter = new LoginAttemptLimiter(1, 15 * 60_000);
    limiter.recordFailure("a", 0);
    expect(() => limiter.recordFailure("a", 60_000)).toThrow(/try again in 14 min/);
  });
});
