import { describe, expect, it } from "vitest";
import { type BackoffPolicy, backoffDelayMs } from "../src/index";

const policy = (jitter: BackoffPolicy["jitter"]): BackoffPolicy => ({ baseMs: 500, maxMs: 30_000, jitter });
const lowest = () => 0;
const highest = () => 1;

describe("backoffDelayMs", () => {
  it("doubles from the base with each attempt, starting at the base for the first retry", () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, policy("none")));
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000]);
  });

  it("never exceeds the cap, even for huge attempt numbers", () => {
    expect(backoffDelayMs(7, policy("none"))).toBe(30_000);
    expect(backoffDelayMs(10_000, policy("none"))).toBe(30_000);
    expect(backoffDelayMs(10_000, policy("equal"), highest)).toBe(30_000);
    expect(backoffDelayMs(10_000, policy("full"), highest)).toBe(30_000);
  });

  it("with equal jitter stays within the upper half of the ceiling", () => {
    expect(backoffDelayMs(4, policy("equal"), lowest)).toBe(2_000);
    expect(backoffDelayMs(4, policy("equal"), () => 0.5)).toBe(3_000);
    expect(backoffDelayMs(4, policy("equal"), highest)).toBe(4_000);
  });

  it("with full jitter spans zero to the ceiling", () => {
    expect(backoffDelayMs(4, policy("full"), lowest)).toBe(0);
    expect(backoffDelayMs(4, policy("full"), () => 0.25)).toBe(1_000);
    expect(backoffDelayMs(4, policy("full"), highest)).toBe(4_000);
  });

  it("ignores the random source when there is no jitter", () => {
    let calls = 0;
    const counting = () => {
      calls++;
      return 0.5;
    };
    expect(backoffDelayMs(2, policy("none"), counting)).toBe(1_000);
    expect(calls).toBe(0);
  });

  it("returns whole milliseconds", () => {
    expect(backoffDelayMs(1, { baseMs: 3, maxMs: 100, jitter: "full" }, () => 0.5)).toBe(2);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("rejects attempt %s with a RangeError", (attempt) => {
    expect(() => backoffDelayMs(attempt, policy("none"))).toThrow(RangeError);
  });

  it("rejects a negative or missing base or cap with a RangeError", () => {
    expect(() => backoffDelayMs(1, { baseMs: -1, maxMs: 10, jitter: "none" })).toThrow(RangeError);
    expect(() => backoffDelayMs(1, { baseMs: 1, maxMs: Number.NaN, jitter: "none" })).toThrow(RangeError);
  });
});
