import { DatabaseSync } from "node:sqlite";
import { type EventPayload, SessionEvent } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { EventLog } from "../../src/session/event-log";
import { ToolOutputRetention, truncationMarker } from "../../src/session/retention";
import { migrate } from "../../src/session/schema";
import { nodeSql } from "./sqlite-port";

const PROMPT = "00000000-0000-4000-8000-000000000001";
const POLICY = { toolCallBudgetChars: 50_000, keptOutputChars: 100, maxRowsPerPass: 50 } as const;

function toolCall(callId: string, output: string, state: "running" | "completed" | "error" = "completed"): EventPayload {
  return { type: "tool.call", promptId: PROMPT, callId, tool: "bash", input: { command: "cat big.log" }, state, output };
}

function session() {
  const sql = nodeSql(new DatabaseSync(":memory:"));
  migrate(sql);
  const log = new EventLog(sql);
  const retention = new ToolOutputRetention(sql, POLICY);
  const record = (payload: EventPayload) => {
    const event = log.append(payload, 0);
    retention.afterAppend(payload);
    return event;
  };
  const toolChars = () => log.after(0, 10_000).reduce((sum, event) => sum + JSON.stringify(event.payload).length, 0);
  return { log, record, toolChars };
}

describe("tool output retention", () => {
  it("keeps a long session's tool outputs within the budget by cutting the oldest, with a marker", () => {
    const { log, record, toolChars } = session();
    for (let i = 0; i < 40; i += 1) record(toolCall(`call-${i}`, `${i}:`.padEnd(5_000, "x")));
    expect(toolChars()).toBeLessThanOrEqual(POLICY.toolCallBudgetChars + 5_000);
    const first = log.byKey("tool:call-0")?.payload;
    expect(first).toMatchObject({ type: "tool.call", output: `0:`.padEnd(100, "x") + truncationMarker(100, 5_000) });
    const last = log.byKey("tool:call-39")?.payload;
    expect(last).toMatchObject({ output: `39:`.padEnd(5_000, "x") });
  });

  it("still replays every row once, in order, each a valid event", () => {
    const { log, record } = session();
    for (let i = 0; i < 40; i += 1) {
      record({ type: "message.text", promptId: PROMPT, messageId: `m-${i}`, text: `step ${i}`, role: "assistant" });
      record(toolCall(`call-${i}`, "y".repeat(5_000)));
    }
    const replayed = log.after(0, 10_000);
    expect(replayed.map((event) => event.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    for (const event of replayed) expect(SessionEvent.safeParse(event).success).toBe(true);
  });

  it("leaves a session under the budget, running calls and short outputs untouched", () => {
    const { log, record } = session();
    record(toolCall("running", "z".repeat(60_000), "running"));
    record(toolCall("short", "ok"));
    expect(log.byKey("tool:running")?.payload).toMatchObject({ output: "z".repeat(60_000) });
    expect(log.byKey("tool:short")?.payload).toMatchObject({ output: "ok" });
  });
});
