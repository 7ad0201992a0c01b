import { describe, expect, it } from "vitest";
import { ADA, SESSION, ev, pending, queued } from "../../test/fixtures";
import { initialSessionView, sessionViewReducer } from "./session-view";

describe("sessionViewReducer", () => {
  it("takes the REST detail first, then lets the socket's queue and presence win", () => {
    let state = sessionViewReducer(initialSessionView(), {
      type: "detail",
      detail: { session: SESSION, role: "owner", queue: [pending("p1", "a")], presence: [], latestSeq: 4 },
    });
    expect(state.queue).toHaveLength(1);
    expect(state.latestSeq).toBe(4);
    state = sessionViewReducer(state, {
      type: "frame",
      frame: { type: "hello", connectionId: "c1", participant: ADA, role: "owner", session: SESSION, latestSeq: 5 },
    });
    state = sessionViewReducer(state, { type: "frame", frame: { type: "queue", prompts: [] } });
    // A slow REST answer arriving after the socket spoke must not bring back the old queue.
    state = sessionViewReducer(state, {
      type: "detail",
      detail: { session: { ...SESSION, updatedAt: 1 }, role: "owner", queue: [pending("p1", "a")], presence: [], latestSeq: 4 },
    });
    expect(state.queue).toEqual([]);
    expect(state.session?.updatedAt).toBe(SESSION.updatedAt);
    expect(state.latestSeq).toBe(5);
  });

  it("applies event frames through the timeline and marks the replay complete", () => {
    let state = initialSessionView();
    state = sessionViewReducer(state, {
      type: "frame",
      frame: { type: "events", events: [ev(1, queued("p1", "hi"))], replay: true, highestSeq: 1, skipped: 0 },
    });
    expect(state.caughtUp).toBe(false);
    state = sessionViewReducer(state, { type: "frame", frame: { type: "subscribed", latestSeq: 1 } });
    expect(state.caughtUp).toBe(true);
    expect(state.timeline.lastSeq).toBe(1);
    const same = sessionViewReducer(state, {
      type: "frame",
      frame: { type: "events", events: [ev(1, queued("p1", "hi"))], replay: true, highestSeq: 1, skipped: 0 },
    });
    expect(same).toBe(state);
  });

  it("replaces the session on a session frame", () => {
    const state = sessionViewReducer(initialSessionView(), {
      type: "frame",
      frame: { type: "session", session: { ...SESSION, status: "idle" } },
    });
    expect(state.session?.status).toBe("idle");
  });
});
