import type { TimelineState } from "./timeline";

/** How many recently viewed sessions keep their timeline in memory for an instant return. */
const CACHED_SESSIONS = 8;

const cache = new Map<string, TimelineState>();

/** The timeline last shown for a session; resuming from it replays only what happened since. */
export function cachedTimeline(sessionId: string): TimelineState | undefined {
  return cache.get(sessionId);
}

export function rememberTimeline(sessionId: string, timeline: TimelineState): void {
  cache.delete(sessionId);
  cache.set(sessionId, timeline);
  while (cache.size > CACHED_SESSIONS) {
    const oldest = cache.keys().next().value;
    if (oldest === undefined) break;
    cache.delete(oldest);
  }
}

export function forgetTimelines(): void {
  cache.clear();
}
