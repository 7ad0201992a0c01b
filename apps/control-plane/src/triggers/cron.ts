import { LookoutError } from "@lookout/protocol";
import { CronExpressionParser } from "cron-parser";

/**
 * Cron schedules in an IANA time zone, through `cron-parser` (the Agents SDK's own cron has no time
 * zones). Daylight saving follows the zone: a local time that does not exist on the spring-forward
 * day fires an hour later that day, and one that happens twice in autumn fires once, the first time.
 */

/** How many upcoming slots the minimum-interval check looks at, and how far ahead at most. */
const GAP_SAMPLE_SLOTS = 500;
const GAP_SAMPLE_HORIZON_MS = 366 * 24 * 60 * 60 * 1000;

/** Refuses a time zone this runtime does not know (cron-parser would only fail later, obscurely). */
export function assertTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch {
    throw new LookoutError(
      "INVALID_TIME_ZONE",
      `"${timeZone}" is not an IANA time zone this runtime knows; use a name such as Europe/Berlin or UTC.`,
    );
  }
}

function iterator(expression: string, timeZone: string, after: number) {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new LookoutError(
      "INVALID_CRON",
      `"${expression}" has ${fields.length} field(s); write five: minute hour day-of-month month day-of-week.`,
    );
  }
  assertTimeZone(timeZone);
  try {
    return CronExpressionParser.parse(fields.join(" "), { tz: timeZone, currentDate: new Date(after) });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new LookoutError("INVALID_CRON", `"${expression}" is not a valid cron expression: ${detail}.`);
  }
}

/** The next `count` slots strictly after `after` (ms), earliest first; fewer if the schedule ends. */
export function nextRuns(expression: string, timeZone: string, after: number, count: number): number[] {
  const slots = iterator(expression, timeZone, after);
  const out: number[] = [];
  while (out.length < count && slots.hasNext()) out.push(slots.next().toDate().getTime());
  return out;
}

/** The first slot strictly after `after`, or null for a schedule with no future slot. */
export function nextRunAfter(expression: string, timeZone: string, after: number): number | null {
  return nextRuns(expression, timeZone, after, 1)[0] ?? null;
}

/**
 * The shortest gap between two consecutive slots over the coming year (or its next 500 slots),
 * starting at `from`; it stops early at the first gap below `stopBelowMs`. Null when there are
 * fewer than two slots to compare.
 */
export function shortestGapMs(expression: string, timeZone: string, from: number, stopBelowMs: number = 0): number | null {
  const slots = iterator(expression, timeZone, from);
  let previous: number | null = null;
  let shortest: number | null = null;
  for (let seen = 0; seen < GAP_SAMPLE_SLOTS && slots.hasNext(); seen++) {
    const at = slots.next().toDate().getTime();
    if (previous !== null) shortest = shortest === null ? at - previous : Math.min(shortest, at - previous);
    if (shortest !== null && shortest < stopBelowMs) break;
    if (at - from > GAP_SAMPLE_HORIZON_MS) break;
    previous = at;
  }
  return shortest;
}

/**
 * Checks a schedule before it is stored: five valid fields, a known time zone, at least one future
 * slot, and no two slots closer than `minIntervalMinutes`. Returns the first slot after `now`.
 */
export function validateSchedule(expression: string, timeZone: string, minIntervalMinutes: number, now: number): number {
  const first = nextRunAfter(expression, timeZone, now);
  if (first === null) throw new LookoutError("INVALID_CRON", `"${expression}" never fires after now.`);
  const gap = shortestGapMs(expression, timeZone, now, minIntervalMinutes * 60_000);
  if (gap !== null && gap < minIntervalMinutes * 60_000) {
    throw new LookoutError(
      "CRON_TOO_FREQUENT",
      `"${expression}" fires ${Math.round(gap / 60_000)} minute(s) apart at its closest; the minimum interval is ${minIntervalMinutes} minutes.`,
    );
  }
  return first;
}

/** A slot as local time in the zone, ISO 8601 with its offset (e.g. `2026-03-09T09:00:00-04:00`). */
export function localIso(at: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "longOffset",
    })
      .formatToParts(new Date(at))
      .map((part) => [part.type, part.value]),
  ) as Record<string, string>;
  const offset = (parts.timeZoneName ?? "GMT").replace(/^GMT/, "") || "+00:00";
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}
