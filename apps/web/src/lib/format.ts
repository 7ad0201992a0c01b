const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const shortDateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

/** "just now", "5 min. ago", "3 hr. ago", then a date. */
export function relativeTime(atMs: number, nowMs: number = Date.now()): string {
  const diff = nowMs - atMs;
  if (diff < 45_000) return "just now";
  if (diff < HOUR_MS) return relativeFormat.format(-Math.round(diff / MINUTE_MS), "minute");
  if (diff < DAY_MS) return relativeFormat.format(-Math.round(diff / HOUR_MS), "hour");
  if (diff < 7 * DAY_MS) return relativeFormat.format(-Math.round(diff / DAY_MS), "day");
  return shortDateFormat.format(atMs);
}

/** "in 5 min.", "in 3 hr.", "tomorrow": how far ahead a moment is ("now" once it has come). */
export function timeUntil(atMs: number, nowMs: number = Date.now()): string {
  const diff = atMs - nowMs;
  if (diff < 45_000) return "now";
  if (diff < HOUR_MS) return relativeFormat.format(Math.round(diff / MINUTE_MS), "minute");
  if (diff < DAY_MS) return relativeFormat.format(Math.round(diff / HOUR_MS), "hour");
  return relativeFormat.format(Math.round(diff / DAY_MS), "day");
}

export function dateTime(atMs: number): string {
  return dateTimeFormat.format(atMs);
}

export function clockTime(atMs: number): string {
  return timeFormat.format(atMs);
}

/** Dollars with enough digits to see small costs: $0.0042, $1.23. */
export function cost(usd: number): string {
  if (usd === 0) return "$0.00";
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  if (usd < 1) return `$${usd.toFixed(3)}`;
  return `$${usd.toFixed(2)}`;
}

export function compactNumber(value: number): string {
  return compactFormat.format(value);
}

/** "850 ms", "12 s", "3 min 4 s", "1 h 2 min". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function initials(name: string): string {
  const words = name
    .trim()
    .split(/[\s._-]+/)
    .filter(Boolean);
  const first = words[0]?.[0] ?? "?";
  const second = words.length > 1 ? (words.at(-1)?.[0] ?? "") : (words[0]?.[1] ?? "");
  return (first + second).toUpperCase();
}

/** A stable, readable background color for someone's initials. */
export function colorFor(seed: string): string {
  let hash = 0;
  for (let i = 0; i < seed.length; i++) hash = (hash * 31 + seed.charCodeAt(i)) | 0;
  return `hsl(${Math.abs(hash) % 360} 55% 45%)`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** The first line of a text, shortened. */
export function firstLine(text: string, maxChars = 120): string {
  const line = text.trim().split("\n", 1)[0] ?? "";
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}
