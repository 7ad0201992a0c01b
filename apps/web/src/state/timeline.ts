import type { SessionEvent } from "@lookout/protocol";

/**
 * The session's event log as this client knows it. Events that share a `key` are one evolving row
 * (a streamed message, a tool call, an artifact): a newer event replaces the row's content but the
 * row keeps the place where it first appeared, so text does not jump around while it streams.
 * Keyless events are rows of their own. `lastSeq` is the highest sequence number applied; anything
 * at or below it has been seen and is ignored, which makes replays after a reconnect idempotent.
 */
export interface TimelineState {
  readonly lastSeq: number;
  /** Row id (`key:<key>` or `seq:<seq>`) → row. */
  readonly rows: ReadonlyMap<string, TimelineRow>;
  /** Row ids ordered by `position`. */
  readonly order: readonly string[];
}

export interface TimelineRow {
  readonly id: string;
  /** The sequence number at which this row first appeared; rows are shown in this order. */
  readonly position: number;
  readonly event: SessionEvent;
}

export const EMPTY_TIMELINE: TimelineState = { lastSeq: 0, rows: new Map(), order: [] };

export function rowId(event: Pick<SessionEvent, "key" | "seq">): string {
  return event.key === null ? `seq:${event.seq}` : `key:${event.key}`;
}

/**
 * Applies a batch of events (live or replayed, in any order, possibly overlapping what was already
 * applied) and returns the new state, or the same object when nothing changed. `highestSeq`
 * advances `lastSeq` past events the caller had to skip (payload types it does not know).
 */
export function applyEvents(state: TimelineState, events: readonly SessionEvent[], highestSeq = 0): TimelineState {
  const fresh = events.filter((event) => event.seq > state.lastSeq).sort((a, b) => a.seq - b.seq);
  const lastSeq = Math.max(state.lastSeq, highestSeq, fresh.at(-1)?.seq ?? 0);
  if (fresh.length === 0) return lastSeq === state.lastSeq ? state : { ...state, lastSeq };

  const rows = new Map(state.rows);
  const appended: string[] = [];
  let appliedSeq = state.lastSeq;

  for (const event of fresh) {
    // A batch may repeat a sequence number (a replay overlapping a live frame): first one wins.
    if (event.seq <= appliedSeq) continue;
    appliedSeq = event.seq;
    const id = rowId(event);
    const existing = rows.get(id);
    if (existing) {
      rows.set(id, { id, position: existing.position, event });
      continue;
    }
    // Every fresh event is newer than every applied one, so a new row always goes last.
    rows.set(id, { id, position: event.seq, event });
    appended.push(id);
  }
  return { lastSeq, rows, order: appended.length ? [...state.order, ...appended] : state.order };
}

/** The rows' current events in display order. */
export function orderedEvents(state: TimelineState): SessionEvent[] {
  const out: SessionEvent[] = [];
  for (const id of state.order) {
    const row = state.rows.get(id);
    if (row) out.push(row.event);
  }
  return out;
}
