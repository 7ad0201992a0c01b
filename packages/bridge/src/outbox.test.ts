import type { BridgeEventPayload } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { Outbox } from "./outbox";

const text = (n: number): BridgeEventPayload => ({ type: "message.text", promptId: "p", messageId: "m", text: `t${n}`, role: "assistant" });
const finished = (promptId: string): BridgeEventPayload => ({ type: "prompt.finished", promptId, status: "completed" });

describe("Outbox", () => {
  it("numbers events from 1, strictly increasing", () => {
    const outbox = new Outbox(10);
    expect([outbox.push(text(1)), outbox.push(text(2)), outbox.push(finished("p"))].map((e) => e.bseq)).toEqual([1, 2, 3]);
    expect(outbox.stats()).toEqual({ size: 3, critical: 1, dropped: 0 });
  });

  it("releases acknowledged events cumulatively", () => {
    const outbox = new Outbox(10);
    for (let i = 1; i <= 5; i++) outbox.push(text(i));
    outbox.ack(3);
    expect(outbox.welcome(3).map((e) => e.bseq)).toEqual([4, 5]);
    outbox.ack(99);
    expect(outbox.stats().size).toBe(0);
  });

  it("returns what the session lacks, in order, on welcome", () => {
    const outbox = new Outbox(10);
    outbox.welcome(0);
    for (let i = 1; i <= 4; i++) outbox.push(text(i));
    expect(outbox.welcome(2).map((e) => e.bseq)).toEqual([3, 4]);
    expect(outbox.push(text(5)).bseq).toBe(5);
  });

  it("drops the oldest non-critical event when full, never a critical one", () => {
    const outbox = new Outbox(3);
    outbox.push(finished("a"));
    outbox.push(text(1));
    outbox.push(finished("b"));
    outbox.push(text(2));
    expect(outbox.welcome(0).map((e) => e.event.type)).toEqual(["prompt.finished", "prompt.finished", "message.text"]);
    expect(outbox.stats().dropped).toBe(1);
    outbox.push(finished("c"));
    outbox.push(finished("d"));
    // Only critical events are left: the buffer grows rather than lose one.
    expect(outbox.stats()).toMatchObject({ size: 4, critical: 4, dropped: 2 });
  });

  it("continues after an earlier bridge process's numbers on its first welcome", () => {
    const outbox = new Outbox(10);
    outbox.push({ type: "bridge.ready" });
    outbox.push(text(1));
    const pending = outbox.welcome(41);
    expect(pending.map((e) => e.bseq)).toEqual([42, 43]);
    expect(outbox.push(text(2)).bseq).toBe(44);
    // Later welcomes are about this process's own numbers.
    expect(outbox.welcome(43).map((e) => e.bseq)).toEqual([44]);
  });

  it("finds critical events written long ago and still unacknowledged", () => {
    const outbox = new Outbox(10);
    const a = outbox.push(finished("a"));
    const b = outbox.push(text(1));
    a.sentAt = 100;
    b.sentAt = 100;
    expect(outbox.staleCritical(200).map((e) => e.bseq)).toEqual([1]);
    expect(outbox.staleCritical(50)).toEqual([]);
  });
});
