import { type EventPayload, eventKey, type SessionEvent } from "@lookout/protocol";
import { one, type Sql } from "./sql";

interface EventRow extends Record<string, string | number | null> {
  seq: number;
  first_seq: number | null;
  key: string | null;
  type: string;
  payload: string;
  at: number;
}

/**
 * The session's event log. Every write takes the next sequence number. A payload with a key (one
 * message's text, one tool call, one artifact) replaces the earlier row with that key, so the log
 * keeps one evolving row per thing and a reader that asks for everything after sequence N gets each
 * row's latest state exactly once.
 */
export class EventLog {
  constructor(private readonly sql: Sql) {}

  latestSeq(): number {
    const row = one(this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'last_seq'`));
    return row ? Number(row.value) : 0;
  }

  /**
   * Appends on the hot path (every streamed frame) in three statements: take the next sequence,
   * remove the key's earlier row (remembering where it first appeared), insert.
   */
  append(payload: EventPayload, at: number): SessionEvent {
    return this.appendSerialized(payload, at).event;
  }

  /**
   * `append`, also returning the event as `SessionEvent` JSON built around the payload's stored
   * JSON, so a broadcast of it serializes the payload once, not twice.
   */
  appendSerialized(payload: EventPayload, at: number): { event: SessionEvent; json: string } {
    const seq = this.takeSeq();
    const key = eventKey(payload);
    let firstSeq = seq;
    if (key !== null) {
      const earlier = one(
        this.sql.exec<{ seq: number; first_seq: number | null }>(`DELETE FROM events WHERE key = ? RETURNING seq, first_seq`, key),
      );
      if (earlier) firstSeq = earlier.first_seq ?? earlier.seq;
    }
    const stored = JSON.stringify(payload);
    this.sql.exec(
      `INSERT INTO events (seq, first_seq, key, type, payload, at) VALUES (?, ?, ?, ?, ?, ?)`,
      seq,
      firstSeq,
      key,
      payload.type,
      stored,
      at,
    );
    return { event: { seq, firstSeq, at, key, payload }, json: serializedEvent(seq, firstSeq, at, key, stored) };
  }

  /** Advances `last_seq` by one and returns it (1 for the first event). */
  private takeSeq(): number {
    const row = one(
      this.sql.exec<{ value: string | number }>(
        `INSERT INTO meta (key, value) VALUES ('last_seq', '1')
           ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value`,
      ),
    );
    if (!row) throw new Error("the sequence counter returned no row");
    return Number(row.value);
  }

  /** The current payload of an evolving row, if there is one. */
  byKey(key: string): SessionEvent | null {
    const row = one(this.sql.exec<EventRow>(`SELECT seq, first_seq, key, type, payload, at FROM events WHERE key = ?`, key));
    return row ? toEvent(row) : null;
  }

  /** Events with a sequence greater than `afterSeq`, oldest first. */
  after(afterSeq: number, limit: number): SessionEvent[] {
    return this.sql
      .exec<EventRow>(`SELECT seq, first_seq, key, type, payload, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
      .map(toEvent);
  }

  /**
   * The same rows as `after`, already serialized as `SessionEvent` JSON, with the last sequence.
   * Replays send these as they are stored, without parsing and re-serializing every payload.
   */
  afterSerialized(afterSeq: number, limit: number): { json: string[]; lastSeq: number } {
    const rows = this.sql.exec<EventRow>(
      `SELECT seq, first_seq, key, type, payload, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
      afterSeq,
      limit,
    );
    return {
      json: rows.map((row) => serializedEvent(row.seq, row.first_seq ?? row.seq, row.at, row.key, row.payload)),
      lastSeq: rows.at(-1)?.seq ?? afterSeq,
    };
  }

  /** The text of the agent's last message for a prompt (not its reasoning), if it wrote one. */
  lastAssistantText(promptId: string): string | null {
    const row = one(
      this.sql.exec<{ text: string | null }>(
        `SELECT json_extract(payload, '$.text') AS text FROM events
          WHERE type = 'message.text' AND json_extract(payload, '$.promptId') = ?
            AND COALESCE(json_extract(payload, '$.role'), 'assistant') = 'assistant'
          ORDER BY COALESCE(first_seq, seq) DESC LIMIT 1`,
        promptId,
      ),
    );
    return row?.text ?? null;
  }

  count(): number {
    return one(this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM events`))?.n ?? 0;
  }
}

/** A `SessionEvent` as JSON, around its payload's JSON as stored. */
function serializedEvent(seq: number, firstSeq: number, at: number, key: string | null, payload: string): string {
  return `{"seq":${seq},"firstSeq":${firstSeq},"at":${at},"key":${JSON.stringify(key)},"payload":${payload}}`;
}

function toEvent(row: EventRow): SessionEvent {
  // Rows are written only by `append` from validated payloads, so they are parsed without re-validation.
  return { seq: row.seq, firstSeq: row.first_seq ?? row.seq, at: row.at, key: row.key, payload: JSON.parse(row.payload) as EventPayload };
}
