import { ServerMessage } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { Harness } from "./harness";

/** Writes an `agent.error` row the way an older version of the session stored it. */
function storeOldAgentError(h: Harness, code: string): number {
  const seq = h.core.eventsAfter(0, 10_000).events.length + 1;
  const payload = { type: "agent.error", message: `written with ${code}`, code };
  h.db
    .prepare(`INSERT INTO events (seq, first_seq, key, type, payload, at) VALUES (?, ?, NULL, 'agent.error', ?, ?)`)
    .run(seq, seq, JSON.stringify(payload), h.now);
  h.db
    .prepare(`INSERT INTO meta (key, value) VALUES ('last_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
    .run(String(seq));
  return seq;
}

describe("agent.error rows stored by older versions", () => {
  it("replay to a client as frames the protocol parses, with registry codes", () => {
    const h = new Harness();
    h.create();
    storeOldAgentError(h, "API_ERROR");
    storeOldAgentError(h, "SOMETHING_A_LATER_VERSION_SENDS");
    storeOldAgentError(h, "GIT_PUSH_FAILED");

    const alice = h.client("alice");

    const frames = alice.sent.map((frame) => ServerMessage.parse(frame));
    const codes = frames
      .flatMap((frame) => (frame.type === "events" ? frame.events : []))
      .flatMap((event) => (event.payload.type === "agent.error" ? [[event.payload.message, event.payload.code]] : []));
    expect(codes).toEqual([
      ["written with API_ERROR", "MODEL_API_ERROR"],
      ["written with SOMETHING_A_LATER_VERSION_SENDS", "UNKNOWN"],
      ["written with GIT_PUSH_FAILED", "GIT_PUSH_FAILED"],
    ]);
  });
});
