import type { EventPayload } from "@lookout/protocol";
import { one, type Sql } from "./sql";

/**
 * How much tool output a session keeps in full. A very long session's storage is dominated by tool
 * outputs (file reads, test runs, logs); past the budget the oldest finished outputs are cut.
 */
export const RETENTION = {
  /** Characters of tool-call rows the event log holds before the oldest outputs are cut. */
  toolCallBudgetChars: 8 * 1024 * 1024,
  /** The beginning of a cut output that stays. */
  keptOutputChars: 2_000,
  /** Rows one pass cuts at most, so a single append never does unbounded work. */
  maxRowsPerPass: 50,
} as const;

export type RetentionPolicy = { readonly [K in keyof typeof RETENTION]: number };

/** Appended to a cut output: says what was kept and why. */
export function truncationMarker(keptChars: number, totalChars: number): string {
  return `\n[Lookout kept the first ${keptChars} of ${totalChars} characters of this output; older tool outputs are cut to bound a long session's storage.]`;
}

/**
 * Keeps a session's tool outputs within `RETENTION`: after a tool call finishes, when the tool-call
 * rows hold more than the budget, the oldest finished outputs are cut to their beginning plus a
 * marker. Rows keep their sequence numbers and stay valid `tool.call` payloads, so the log still
 * replays every row without gaps; live clients already got the full output when it was recorded.
 */
export class ToolOutputRetention {
  constructor(
    private readonly sql: Sql,
    private readonly policy: RetentionPolicy = RETENTION,
  ) {}

  /** The hook after every append: only a finished tool call can push the total over the budget. */
  afterAppend(payload: EventPayload): number {
    if (payload.type !== "tool.call" || (payload.state !== "completed" && payload.state !== "error")) return 0;
    return this.trim();
  }

  /** Cuts the oldest finished outputs until the tool-call rows fit the budget; returns how many were cut. */
  trim(): number {
    const total =
      one(this.sql.exec<{ chars: number }>(`SELECT COALESCE(SUM(length(payload)), 0) AS chars FROM events WHERE type = 'tool.call'`))
        ?.chars ?? 0;
    let excess = total - this.policy.toolCallBudgetChars;
    if (excess <= 0) return 0;
    const kept = this.policy.keptOutputChars;
    // A cut output is `kept` characters plus a marker far shorter than this, so it is never cut again.
    const longerThan = kept + 400;
    const rows = this.sql.exec<{ seq: number; chars: number }>(
      `SELECT seq, length(json_extract(payload, '$.output')) AS chars FROM events
        WHERE type = 'tool.call' AND json_extract(payload, '$.state') IN ('completed', 'error')
          AND length(json_extract(payload, '$.output')) > ?
        ORDER BY seq LIMIT ?`,
      longerThan,
      this.policy.maxRowsPerPass,
    );
    let cut = 0;
    for (const row of rows) {
      if (excess <= 0) break;
      const marker = truncationMarker(kept, row.chars);
      this.sql.exec(
        `UPDATE events SET payload = json_set(payload, '$.output', substr(json_extract(payload, '$.output'), 1, ?) || ?) WHERE seq = ?`,
        kept,
        marker,
        row.seq,
      );
      excess -= row.chars - kept - marker.length;
      cut += 1;
    }
    return cut;
  }
}
