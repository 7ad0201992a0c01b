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
    // A row sits where it first appeared; a replayed evolving row may have first appeared before
    // rows that changed after it, so it can land in the middle.
    rows.set(id, { id, position: event.firstSeq ?? event.seq, event });
    appended.push(id);
  }
  if (appended.length === 0) return { lastSeq, rows, order: state.order };
  const order = [...state.order, ...appended];
  if (!isSorted(order, rows)) order.sort((a, b) => rows.get(a)!.position - rows.get(b)!.position);
  return { lastSeq, rows, order };
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

function isSorted(order: readonly string[], rows: ReadonlyMap<string, { position: number }>): boolean {
  for (let i = 1; i < order.length; i++) if (rows.get(order[i - 1]!)!.position > rows.get(order[i]!)!.position) return false;
  return true;
}
