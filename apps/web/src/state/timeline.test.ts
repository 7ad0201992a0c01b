import { describe, expect, it } from "vitest";
import { ev, queued, text, tool } from "../../test/fixtures";
import { applyEvents, EMPTY_TIMELINE, orderedEvents, type TimelineState } from "./timeline";

function texts(state: TimelineState): string[] {
  return orderedEvents(state).map((event) => {
    const p = event.payload;
    if (p.type === "message.text") return `${p.messageId}:${p.text}`;
    if (p.type === "tool.call") return `${p.callId}:${p.state}`;
    return p.type;
  });
}

describe("applyEvents", () => {
  it("appends keyless events in sequence order", () => {
    const state = applyEvents(EMPTY_TIMELINE, [ev(1, queued("p1", "hi")), ev(2, { type: "prompt.started", promptId: "p1" })]);
    expect(texts(state)).toEqual(["prompt.queued", "prompt.started"]);
    expect(state.lastSeq).toBe(2);
  });

  it("sorts a batch that arrives out of order", () => {
    const state = applyEvents(EMPTY_TIMELINE, [
      ev(3, text("p1", "m1", "c")),
      ev(1, queued("p1", "hi")),
      ev(2, { type: "prompt.started", promptId: "p1" }),
    ]);
    expect(texts(state)).toEqual(["prompt.queued", "prompt.started", "m1:c"]);
  });

  it("replaces a keyed row with its newer state and keeps the row's first position", () => {
    let state = applyEvents(EMPTY_TIMELINE, [ev(1, text("p1", "m1", "Hel")), ev(2, tool("p1", "c1", "running"))]);
    state = applyEvents(state, [ev(3, text("p1", "m1", "Hello world"))]);
    expect(texts(state)).toEqual(["m1:Hello world", "c1:running"]);
    expect(state.rows.size).toBe(2);
  });

  it("applies several updates of one row inside one batch, last one winning", () => {
    const state = applyEvents(EMPTY_TIMELINE, [
      ev(1, tool("p1", "c1", "pending")),
      ev(4, tool("p1", "c1", "completed", { output: "ok" })),
      ev(2, tool("p1", "c1", "running")),
    ]);
    expect(texts(state)).toEqual(["c1:completed"]);
  });

  it("ignores events at or below the last applied sequence (replay after reconnect)", () => {
    const first = applyEvents(EMPTY_TIMELINE, [ev(1, queued("p1", "hi")), ev(2, text("p1", "m1", "Hello"))]);
    // The reconnect replays an overlap, including a stale version of the keyed row.
    const replayed = applyEvents(first, [ev(1, queued("p1", "hi")), ev(2, text("p1", "m1", "He")), ev(3, tool("p1", "c1", "running"))]);
    expect(texts(replayed)).toEqual(["prompt.queued", "m1:Hello", "c1:running"]);
    expect(replayed.lastSeq).toBe(3);
  });

  it("returns the same state object when a batch holds nothing new", () => {
    const state = applyEvents(EMPTY_TIMELINE, [ev(1, queued("p1", "hi"))]);
    expect(applyEvents(state, [ev(1, queued("p1", "hi"))])).toBe(state);
    expect(applyEvents(state, [])).toBe(state);
  });

  it("drops a duplicate sequence number inside one batch", () => {
    const state = applyEvents(EMPTY_TIMELINE, [ev(1, queued("p1", "a")), ev(1, queued("p1", "b"))]);
    expect(state.order).toHaveLength(1);
  });

  it("advances past skipped events so they are not asked for again", () => {
    const state = applyEvents(EMPTY_TIMELINE, [ev(1, queued("p1", "hi"))], 5);
    expect(state.lastSeq).toBe(5);
    expect(applyEvents(state, [ev(4, text("p1", "m1", "late"))])).toBe(state);
    expect(applyEvents(EMPTY_TIMELINE, [], 3).lastSeq).toBe(3);
  });

  it("gives the same rows for a full replay as for the live stream that produced it", () => {
    const live = [
      ev(1, queued("p1", "hi")),
      ev(2, { type: "prompt.started", promptId: "p1" }),
      ev(3, text("p1", "m1", "I")),
      ev(4, text("p1", "m1", "I will")),
      ev(5, tool("p1", "c1", "running")),
      ev(6, tool("p1", "c1", "completed", { output: "done" })),
      ev(7, text("p1", "m2", "Done.")),
    ];
    let streamed = EMPTY_TIMELINE;
    for (const event of live) streamed = applyEvents(streamed, [event]);
    // What the server replays: each keyed row once, at its latest sequence number.
    const replay = [live[0]!, live[1]!, live[3]!, live[5]!, live[6]!];
    const replayed = applyEvents(EMPTY_TIMELINE, replay);
    expect(texts(replayed)).toEqual(texts(streamed));
    expect(replayed.lastSeq).toBe(streamed.lastSeq);
  });

  it("resumes after a disconnect without missing or repeating anything", () => {
    let state = applyEvents(EMPTY_TIMELINE, [ev(1, queued("p1", "hi")), ev(2, text("p1", "m1", "Hel"))]);
    // Disconnected: the client resubscribes with afterSeq = state.lastSeq and gets what it missed,
    // then a live frame that raced with the replay repeats one of them.
    const afterSeq = state.lastSeq;
    expect(afterSeq).toBe(2);
    state = applyEvents(state, [ev(4, text("p1", "m1", "Hello")), ev(5, tool("p1", "c1", "running"))]);
    state = applyEvents(state, [ev(5, tool("p1", "c1", "running")), ev(6, tool("p1", "c1", "completed"))]);
    expect(texts(state)).toEqual(["prompt.queued", "m1:Hello", "c1:completed"]);
    expect(state.lastSeq).toBe(6);
  });

  it("places a replayed evolving row where it first appeared, as a live watcher saw it", () => {
    // Live: the message (seq 2) starts, a tool call starts (3), then the message's final text (4).
    const live = applyEvents(EMPTY_TIMELINE, [ev(1, queued("p1", "hi")), ev(2, text("p1", "m1", "a")), ev(3, tool("p1", "t1", "running"))]);
    const liveEnd = applyEvents(live, [{ ...ev(4, text("p1", "m1", "ab")), firstSeq: 2 }]);
    // Replay: the log holds the message's latest state at seq 4, first seen at seq 2.
    const replayed = applyEvents(EMPTY_TIMELINE, [
      { ...ev(1, queued("p1", "hi")), firstSeq: 1 },
      { ...ev(3, tool("p1", "t1", "running")), firstSeq: 3 },
      { ...ev(4, text("p1", "m1", "ab")), firstSeq: 2 },
    ]);
    expect(texts(replayed)).toEqual(["prompt.queued", "m1:ab", "t1:running"]);
    expect(texts(replayed)).toEqual(texts(liveEnd));
  });

  it("does not mutate the previous state", () => {
    const before = applyEvents(EMPTY_TIMELINE, [ev(1, text("p1", "m1", "a"))]);
    const snapshot = { order: [...before.order], rows: new Map(before.rows) };
    applyEvents(before, [ev(2, text("p1", "m1", "ab")), ev(3, queued("p2", "x"))]);
    expect(before.order).toEqual(snapshot.order);
    expect(before.rows).toEqual(snapshot.rows);
    expect(EMPTY_TIMELINE.rows.size).toBe(0);
  });

  it("keeps thousands of streamed updates as one row each", () => {
    let state = EMPTY_TIMELINE;
    let body = "";
    for (let seq = 1; seq <= 2000; seq++) {
      body += "x";
      state = applyEvents(state, [ev(seq, text("p1", `m${Math.ceil(seq / 500)}`, body))]);
    }
    expect(state.order).toHaveLength(4);
    expect(state.lastSeq).toBe(2000);
  });
});
