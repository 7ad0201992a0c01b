import { LookoutError } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { localIso, nextRunAfter, nextRuns, shortestGapMs, validateSchedule } from "../../src/triggers/cron";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number[]) => ms.map((m) => new Date(m).toISOString());

function codeOf(work: () => unknown): string | null {
  try {
    work();
    return null;
  } catch (error) {
    return error instanceof LookoutError ? error.code : `not a LookoutError: ${String(error)}`;
  }
}

describe("cron schedules", () => {
  it("computes the next slots of a five-field expression in its time zone", () => {
    // 09:00 on weekdays in New York: EST (UTC-5) before 8 March 2026, EDT (UTC-4) after.
    expect(iso(nextRuns("0 9 * * 1-5", "America/New_York", at("2026-03-05T12:00:00Z"), 4))).toEqual([
      "2026-03-05T14:00:00.000Z",
      "2026-03-06T14:00:00.000Z",
      "2026-03-09T13:00:00.000Z",
      "2026-03-10T13:00:00.000Z",
    ]);
    expect(iso(nextRuns("30 6 * * *", "Asia/Kolkata", at("2026-06-01T00:00:00Z"), 1))).toEqual(["2026-06-01T01:00:00.000Z"]);
  });

  it("returns slots strictly after the given time", () => {
    expect(nextRunAfter("0 9 * * *", "UTC", at("2026-03-07T09:00:00Z"))).toBe(at("2026-03-08T09:00:00Z"));
    expect(nextRunAfter("0 9 * * *", "UTC", at("2026-03-07T08:59:59.999Z"))).toBe(at("2026-03-07T09:00:00Z"));
  });

  it("fires a local time skipped by spring-forward an hour later that day", () => {
    // 02:30 does not exist in New York on 8 March 2026; the run happens at 03:30 EDT (07:30Z).
    expect(iso(nextRuns("30 2 * * *", "America/New_York", at("2026-03-07T12:00:00Z"), 2))).toEqual([
      "2026-03-08T07:30:00.000Z",
      "2026-03-09T06:30:00.000Z",
    ]);
  });

  it("fires a local time repeated by fall-back once, the first time", () => {
    // 01:30 happens twice in New York on 1 November 2026 (05:30Z EDT, 06:30Z EST): one run.
    expect(iso(nextRuns("30 1 * * *", "America/New_York", at("2026-10-31T12:00:00Z"), 2))).toEqual([
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z",
    ]);
  });

  it("keeps real-time spacing across a daylight-saving change", () => {
    const slots = nextRuns("*/30 * * * *", "Europe/Berlin", at("2026-10-25T00:10:00Z"), 6);
    const gaps = slots.slice(1).map((slot, i) => slot - slots[i]!);
    expect(new Set(gaps)).toEqual(new Set([30 * 60_000]));
  });

  it("refuses malformed expressions, seconds fields, macros and unknown time zones with typed errors", () => {
    expect(codeOf(() => nextRuns("61 * * * *", "UTC", 0, 1))).toBe("INVALID_CRON");
    expect(codeOf(() => nextRuns("0 0 9 * * *", "UTC", 0, 1))).toBe("INVALID_CRON");
    expect(codeOf(() => nextRuns("@daily", "UTC", 0, 1))).toBe("INVALID_CRON");
    expect(codeOf(() => nextRuns("0 0 31 4 *", "UTC", 0, 1))).toBe("INVALID_CRON");
    expect(codeOf(() => nextRuns("a b c d e", "UTC", 0, 1))).toBe("INVALID_CRON");
    expect(codeOf(() => nextRuns("0 9 * * *", "Mars/Olympus_Mons", 0, 1))).toBe("INVALID_TIME_ZONE");
  });

  it("measures the shortest gap between slots, including irregular ones", () => {
    expect(shortestGapMs("*/20 * * * *", "UTC", at("2026-01-01T00:00:00Z"))).toBe(20 * 60_000);
    // 09:00 and 09:05 once a day: the 5-minute gap counts, not the day between.
    expect(shortestGapMs("0,5 9 * * *", "UTC", at("2026-01-01T00:00:00Z"))).toBe(5 * 60_000);
    // Minute 55 then minute 0 of the next hour: 5 minutes across the hour boundary.
    expect(shortestGapMs("0,55 * * * *", "UTC", at("2026-01-01T00:00:00Z"))).toBe(5 * 60_000);
  });

  it("enforces the minimum interval and returns the first slot of a valid schedule", () => {
    const now = at("2026-01-01T00:07:00Z");
    expect(validateSchedule("*/15 * * * *", "UTC", 15, now)).toBe(at("2026-01-01T00:15:00Z"));
    expect(codeOf(() => validateSchedule("*/5 * * * *", "UTC", 15, now))).toBe("CRON_TOO_FREQUENT");
    expect(codeOf(() => validateSchedule("0,5 9 * * *", "UTC", 15, now))).toBe("CRON_TOO_FREQUENT");
    expect(validateSchedule("*/5 * * * *", "UTC", 5, now)).toBe(at("2026-01-01T00:10:00Z"));
  });

  it("shows a slot as local time with the zone's offset on that date", () => {
    expect(localIso(at("2026-03-09T13:00:00Z"), "America/New_York")).toBe("2026-03-09T09:00:00-04:00");
    expect(localIso(at("2026-01-09T14:00:00Z"), "America/New_York")).toBe("2026-01-09T09:00:00-05:00");
    expect(localIso(at("2026-01-09T14:00:00Z"), "UTC")).toBe("2026-01-09T14:00:00+00:00");
  });
});
