import { useEffect, useState } from "react";
import { dateTime, relativeTime, timeUntil } from "../lib/format";

/** Re-renders every relative time on the page once a minute; one timer for all of them. */
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;
const TICK_MS = 30_000;

function useMinuteTick(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const listener = () => setNow(Date.now());
    listeners.add(listener);
    timer ??= setInterval(() => listeners.forEach((fn) => fn()), TICK_MS);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    };
  }, []);
  return now;
}

export function RelativeTime({ at }: { at: number }) {
  const now = useMinuteTick();
  return (
    <time dateTime={new Date(at).toISOString()} title={dateTime(at)}>
      {relativeTime(at, Math.max(now, Date.now()))}
    </time>
  );
}

/** A moment ahead ("in 5 min."), kept current like `RelativeTime`. */
export function TimeUntil({ at }: { at: number }) {
  const now = useMinuteTick();
  return (
    <time dateTime={new Date(at).toISOString()} title={dateTime(at)}>
      {timeUntil(at, Math.max(now, Date.now()))}
    </time>
  );
}
