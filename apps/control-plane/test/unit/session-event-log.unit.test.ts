import { DatabaseSync } from "node:sqlite";
import type { EventPayload } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { EventLog } from "../../src/session/event-log";
import { migrate } from "../../src/session/schema";
import type { Sql, SqlValue } from "../../src/session/sql";
import { nodeSql } from "./sqlite-port";

/** The event log over Node's SQLite, with every statement it runs recorded. */
function countedLog() {
  const statements: string[] = [];
  const base = nodeSql(new DatabaseSync(":memory:"));
  const sql: Sql = {
    exec: <Row extends Record<string, SqlValue>>(query: string, ...params: SqlValue[]) => {
      statements.push(query);
      return base.exec<Row>(query, ...params);
    },
    transaction: (work) => base.transaction(work),
  };
  migrate(sql);
  statements.length = 0;
  return { log: new EventLog(sql), sql, statements };
}

const text = (messageId: string, body: string): EventPayload => ({
  type: "message.text",
  promptId: "p1",
  messageId,
  text: body,
  role: "assistant",
});

describe("the event log on the hot path", () => {
  it("appends a streamed frame with three statements: the next sequence, the key's earlier row, the row", () => {
    const { log, statements } = countedLog();
    log.append(text("m1", "Hel"), 1);
    statements.length = 0;
    log.append(text("m1", "Hello"), 2);
    expect(statements).toHaveLength(3);
  });

  it("numbers appends 1, 2, 3… and keeps where an evolving row first appeared", () => {
    const { log } = countedLog();
    expect(log.latestSeq()).toBe(0);
    const first = log.append(text("m1", "Hel"), 1);
    const other = log.append(text("m2", "Other"), 2);
    const grown = log.append(text("m1", "Hello"), 3);
    expect([first.seq, other.seq, grown.seq]).toEqual([1, 2, 3]);
    expect([first.firstSeq, other.firstSeq, grown.firstSeq]).toEqual([1, 2, 1]);
    expect(log.latestSeq()).toBe(3);
    // One row per key: the earlier state of m1 is gone, its latest keeps its first sequence.
    expect(log.after(0, 10).map((event) => [event.seq, event.firstSeq, event.key])).toEqual([
      [2, 2, "text:m2"],
      [3, 1, "text:m1"],
    ]);
  });

  it("undoes the sequence with the rest of a unit that throws", () => {
    const { log, sql } = countedLog();
    log.append(text("m1", "Hel"), 1);
    expect(() =>
      sql.transaction(() => {
        log.append(text("m1", "Hello"), 2);
        throw new Error("refused");
      }),
    ).toThrow("refused");
    expect(log.latestSeq()).toBe(1);
    expect(log.append(text("m2", "Next"), 3).seq).toBe(2);
    expect(log.byKey("text:m1")?.payload).toEqual(text("m1", "Hel"));
  });
});
