import { ErrorCode, type SessionCommand } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { type FakeSocket, Harness } from "./harness";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;
type ErrorCommand = Extract<SessionCommand, { type: "error" }>;
type Ack = Extract<SessionCommand, { type: "bridge.ack" }>;

/** A session whose bridge is connected and running one prompt, with a second one waiting. */
async function runningSession() {
  const h = new Harness();
  h.create("do the thing");
  h.core.enqueuePrompt({ userId: "bob", name: "Bob" }, { requestId: "next", text: "then this" });
  await h.settle();
  const bridge = h.bridge();
  await h.settle();
  const command = bridge.messages<PromptCommand>("command.prompt")[0];
  if (!command) throw new Error("the prompt was not dispatched");
  return { h, bridge, promptId: command.promptId };
}

/** Everything a refused frame must leave as it was: the event log and the queue. */
function snapshot(h: Harness) {
  return { events: h.core.eventsAfter(0, 10_000).events, queue: h.core.detail().queue };
}

/** Sends one raw frame and answers the `error` frames it caused. */
async function sendRaw(h: Harness, bridge: FakeSocket, frame: unknown): Promise<ErrorCommand[]> {
  const errorsBefore = bridge.messages<ErrorCommand>("error").length;
  h.core.onBridgeMessage(bridge, JSON.stringify(frame));
  await h.settle();
  return bridge.messages<ErrorCommand>("error").slice(errorsBefore);
}

const text = (promptId: unknown, body: string) => ({ type: "message.text", promptId, messageId: "m1", text: body });
const commit = (promptId: string) => ({
  type: "git.commit",
  promptId,
  sha: "a".repeat(40),
  branch: "lookout/ses_test",
  message: "Do the thing",
  author: { name: "Alice", email: "alice@example.com" },
});

describe("bridge frames the session refuses", () => {
  it.each([
    ["a bseq that is a string", (promptId: string) => ({ type: "bridge.event", bseq: "2", event: text(promptId, "hi") })],
    ["an event whose promptId is a number", () => ({ type: "bridge.event", bseq: 2, event: text(42, "hi") })],
    [
      "an event type the protocol does not have",
      () => ({ type: "bridge.event", bseq: 2, event: { type: "prompt.exploded", promptId: "p" } }),
    ],
    [
      "an agent.error whose code is not in the registry",
      () => ({ type: "bridge.event", bseq: 2, event: { type: "agent.error", message: "x", code: "API_ERROR" } }),
    ],
  ])("refuses %s with INVALID_FRAME and changes nothing", async (_name, frame) => {
    const { h, bridge, promptId } = await runningSession();
    const before = snapshot(h);
    const acksBefore = bridge.messages<Ack>("bridge.ack").length;

    const errors = await sendRaw(h, bridge, frame(promptId));

    expect(errors.map((error) => error.code)).toEqual(["INVALID_FRAME"]);
    expect(ErrorCode.safeParse(errors[0]?.code).success).toBe(true);
    expect(bridge.messages<Ack>("bridge.ack")).toHaveLength(acksBefore);
    expect(snapshot(h)).toEqual(before);
    // The refused frame used no sequence number: the next valid frame with bseq 2 is applied.
    await sendRaw(h, bridge, { type: "bridge.event", bseq: 2, event: text(promptId, "after the refusal") });
    expect(h.core.eventsAfter(0, 10_000).events.at(-1)?.payload).toMatchObject({ type: "message.text", text: "after the refusal" });
  });

  it("refuses a frame type the bridge protocol does not have with UNKNOWN_MESSAGE_TYPE and changes nothing", async () => {
    const { h, bridge } = await runningSession();
    const before = snapshot(h);
    const errors = await sendRaw(h, bridge, { type: "bridge.teleport", bseq: 2 });
    expect(errors.map((error) => error.code)).toEqual(["UNKNOWN_MESSAGE_TYPE"]);
    expect(snapshot(h)).toEqual(before);
  });
});

describe("bridge sequence numbers", () => {
  it("acknowledges a re-sent bseq again but stores its event once", async () => {
    const { h, bridge, promptId } = await runningSession();
    // bridge.ready used bseq 1.
    expect(await sendRaw(h, bridge, { type: "bridge.event", bseq: 2, event: commit(promptId) })).toEqual([]);
    const stored = snapshot(h);
    expect(stored.events.filter((event) => event.payload.type === "git.commit")).toHaveLength(1);

    for (const bseq of [2, 1]) {
      const errors = await sendRaw(h, bridge, { type: "bridge.event", bseq, event: commit(promptId) });
      expect(errors).toEqual([]);
      expect(bridge.messages<Ack>("bridge.ack").at(-1)).toEqual({ type: "bridge.ack", bseq });
    }
    expect(snapshot(h)).toEqual(stored);
    expect(h.core.eventsAfter(0, 10_000).events.filter((event) => event.payload.type === "git.commit")).toHaveLength(1);
  });

  it("does not let a re-sent bseq carrying different content rewrite what was stored", async () => {
    const { h, bridge, promptId } = await runningSession();
    await sendRaw(h, bridge, { type: "bridge.event", bseq: 2, event: text(promptId, "first version") });
    const stored = snapshot(h);

    await sendRaw(h, bridge, { type: "bridge.event", bseq: 2, event: text(promptId, "rewritten") });

    expect(bridge.messages<Ack>("bridge.ack").at(-1)).toEqual({ type: "bridge.ack", bseq: 2 });
    expect(snapshot(h)).toEqual(stored);
    expect(stored.events.at(-1)?.payload).toMatchObject({ type: "message.text", text: "first version" });
  });

  it("refuses a prompt.finished re-sent under an old bseq: the prompt finishes once and the queue moves once", async () => {
    const { h, bridge, promptId } = await runningSession();
    await sendRaw(h, bridge, { type: "bridge.event", bseq: 2, event: { type: "prompt.finished", promptId, status: "completed" } });
    await h.settle();
    const afterFirst = snapshot(h);
    expect(afterFirst.queue.map((prompt) => [prompt.text, prompt.status])).toEqual([["then this", "running"]]);

    await sendRaw(h, bridge, { type: "bridge.event", bseq: 2, event: { type: "prompt.finished", promptId, status: "completed" } });

    expect(snapshot(h)).toEqual(afterFirst);
    const finished = afterFirst.events.filter((event) => event.payload.type === "prompt.finished");
    expect(finished).toHaveLength(1);
  });
});
