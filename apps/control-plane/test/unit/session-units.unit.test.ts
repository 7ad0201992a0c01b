import type { ServerMessage, SessionCommand } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { heartbeatVerdict, planAfterSpawnFailure, restingStatus } from "../../src/session/decisions";
import { LIFECYCLE } from "../../src/session/lifecycle";
import { DEADLINE_RETRY_MS } from "../../src/session/session-core";
import { FakeSocket, Harness } from "./harness";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;
type ErrorFrame = Extract<ServerMessage, { type: "error" }>;

const BOB = { userId: "bob", name: "Bob", email: "bob@example.com" };

async function runningSession() {
  const h = new Harness();
  h.create("do the thing");
  await h.settle();
  const bridge = h.bridge();
  await h.settle();
  const command = bridge.messages<PromptCommand>("command.prompt")[0];
  if (!command) throw new Error("the prompt was not dispatched");
  return { h, bridge, command };
}

/** Everything the session stores that a person can see, to compare before and after. */
function snapshot(h: Harness) {
  return {
    events: h.core.eventsAfter(0, 10_000).events,
    queue: h.core.detail().queue,
    participants: h.core.participants(),
    state: h.core.state(),
  };
}

describe("every entry point is one unit", () => {
  it("a deadline handler that throws loses no deadline and no event: its work is undone and it runs again", async () => {
    const { h, bridge, command } = await runningSession();
    h.core.stop({ userId: "alice", name: "Alice" });
    expect(bridge.messages("command.stop")).toHaveLength(1);
    const before = snapshot(h);
    // The bridge never confirms; when the stop-confirmation deadline fires, the host fails under it.
    h.socketListingFaults = Number.POSITIVE_INFINITY;
    await h.advance(LIFECYCLE.stopConfirmationMs);
    h.socketListingFaults = 0;
    expect(snapshot(h)).toEqual(before);
    expect(h.gateway.terminated).toEqual([]);
    expect(h.alarmAt).toBe(h.now + DEADLINE_RETRY_MS);
    // The fault has passed; the same deadline runs again and does its work exactly once.
    await h.advance(DEADLINE_RETRY_MS);
    const finished = h.core.eventsAfter(0, 10_000).events.filter((event) => event.payload.type === "prompt.finished");
    expect(finished.map((event) => event.payload)).toEqual([expect.objectContaining({ promptId: command.promptId, status: "stopped" })]);
    expect(h.gateway.terminated).toEqual([h.gateway.created[0]!.sandboxId]);
    expect(h.core.state().sandboxStatus).toBe("stale");
  });

  it("a refused command undoes what it began and nobody hears of it: a newcomer's prompt on a full queue does not join them", async () => {
    const h = new Harness();
    h.create();
    const alice = h.client("alice");
    for (let i = 0; i < 20; i++) h.core.enqueuePrompt({ userId: "alice", name: "Alice" }, { requestId: `r${i}`, text: `prompt ${i}` });
    await h.settle();
    const before = snapshot(h);
    const heard = alice.sent.length;
    const bob = new FakeSocket("c-bob");
    h.sockets.set(bob.id, bob);
    bob.setState({ kind: "client", author: BOB, role: "member", subscribed: true, status: "active", typingUntil: 0 });
    h.core.onClientMessage(bob, JSON.stringify({ type: "prompt.send", requestId: "bob-1", text: "one more" }));
    expect(bob.messages<ErrorFrame>("error")).toEqual([expect.objectContaining({ code: "PROMPT_QUEUE_FULL", requestId: "bob-1" })]);
    expect(snapshot(h)).toEqual(before);
    expect(alice.sent.slice(heard)).toEqual([]);
  });

  it("writes the D1 index once for a change, not once per step of it", async () => {
    const h = new Harness();
    h.create("first prompt");
    await h.settle();
    // Creating the session and queueing its first prompt is one change to what the index shows.
    expect(h.indexWrites.map((record) => record.status)).toEqual(["starting"]);
  });
});

describe("roles are checked by the commands", () => {
  async function withViewer() {
    const { h, bridge } = await runningSession();
    const viewer = new FakeSocket("c-viewer");
    h.sockets.set(viewer.id, viewer);
    h.core.onClientConnect(viewer, BOB, "viewer");
    h.core.onClientMessage(viewer, JSON.stringify({ type: "subscribe", afterSeq: 0 }));
    return { h, bridge, viewer };
  }

  it("a viewer is refused on the socket and through the API alike, and nothing changes", async () => {
    const { h, viewer } = await withViewer();
    const before = snapshot(h);
    const frames = [
      { type: "prompt.send", requestId: "v-1", text: "let me in" },
      { type: "session.stop" },
      { type: "prompt.cancel", promptId: before.queue[0]!.promptId },
    ];
    for (const frame of frames) h.core.onClientMessage(viewer, JSON.stringify(frame));
    expect(viewer.messages<ErrorFrame>("error").map((error) => error.code)).toEqual(["FORBIDDEN", "FORBIDDEN", "FORBIDDEN"]);
    // The REST routes call these same commands with the caller as author.
    expect(() => h.core.enqueuePrompt(BOB, { requestId: "v-2", text: "let me in" })).toThrow(/Viewers cannot send prompts/);
    expect(() => h.core.stop(BOB)).toThrow(/Viewers cannot stop/);
    expect(() => h.core.rename(BOB, "Mine now")).toThrow(/Viewers cannot rename/);
    expect(() => h.core.setArchived(BOB, true)).toThrow(/Viewers cannot archive/);
    expect(snapshot(h)).toEqual(before);
  });

  it("a viewer's typing does not start a sandbox; only the owner changes roles", async () => {
    const h = new Harness();
    h.create();
    const viewer = new FakeSocket("c-viewer");
    h.sockets.set(viewer.id, viewer);
    h.core.onClientConnect(viewer, BOB, "viewer");
    h.core.onClientMessage(viewer, JSON.stringify({ type: "typing", typing: true }));
    await h.settle();
    expect(h.gateway.created).toEqual([]);
    expect(() => h.core.setRole(BOB, BOB, "member")).toThrow(/Only the session's owner/);
    h.core.setRole({ userId: "alice", name: "Alice" }, BOB, "member");
    expect(h.core.roleOf("bob")).toBe("member");
    expect(viewer.state()).toMatchObject({ role: "member" });
    expect(h.eventTypes().at(-1)).toBe("participant.role");
    h.core.enqueuePrompt(BOB, { requestId: "b-1", text: "now I may" });
    expect(h.core.detail().queue.map((prompt) => prompt.text)).toEqual(["now I may"]);
  });
});

describe("reports to the session's origin", () => {
  it("hands over each finished prompt with the agent's last message, once; dashboard sessions report nowhere", async () => {
    const h = new Harness();
    h.create("fix it", { kind: "slack", teamId: "T1", channelId: "C1", threadTs: "1700000000.000100" });
    await h.settle();
    const bridge = h.bridge();
    await h.settle();
    const { promptId } = bridge.messages<PromptCommand>("command.prompt")[0]!;
    bridge.emit(h.core, { type: "message.text", promptId, messageId: "m1", text: "Thinking", role: "reasoning" });
    bridge.emit(h.core, { type: "message.text", promptId, messageId: "m2", text: "Fixed the plus-sign bug." });
    bridge.emit(h.core, { type: "prompt.finished", promptId, status: "completed" });
    bridge.emit(h.core, { type: "prompt.finished", promptId, status: "completed" });
    await h.settle();
    expect(h.outcomes).toEqual([
      expect.objectContaining({ kind: "prompt.finished", promptId, status: "completed", summary: "Fixed the plus-sign bug.", error: null }),
    ]);
    expect(h.core.state().origin).toEqual({ kind: "slack", teamId: "T1", channelId: "C1", threadTs: "1700000000.000100" });

    const quiet = new Harness();
    quiet.create("fix it", { kind: "dashboard" });
    await quiet.settle();
    const other = quiet.bridge();
    await quiet.settle();
    other.emit(quiet.core, {
      type: "prompt.finished",
      promptId: other.messages<PromptCommand>("command.prompt")[0]!.promptId,
      status: "completed",
    });
    await quiet.settle();
    expect(quiet.outcomes).toEqual([]);
  });
});

describe("decisions", () => {
  const sandbox = { lastHeartbeat: 1_000, createdAt: 0 };

  it("judges a heartbeat by whether the bridge ever connected and is connected now", () => {
    expect(heartbeatVerdict(sandbox, true, 1_000 + LIFECYCLE.heartbeatTimeoutMs - 1, LIFECYCLE)).toEqual({
      kind: "alive",
      recheckAt: 1_000 + LIFECYCLE.heartbeatTimeoutMs,
    });
    expect(heartbeatVerdict(sandbox, true, 1_000 + LIFECYCLE.heartbeatTimeoutMs, LIFECYCLE)).toMatchObject({ kind: "lost" });
    expect(heartbeatVerdict(sandbox, false, 1_000 + LIFECYCLE.reconnectGraceMs, LIFECYCLE)).toEqual({
      kind: "lost",
      reason: "The sandbox's bridge disconnected and did not come back.",
    });
    expect(heartbeatVerdict({ lastHeartbeat: null, createdAt: 0 }, false, LIFECYCLE.connectTimeoutMs, LIFECYCLE)).toEqual({
      kind: "lost",
      reason: "The sandbox never connected.",
    });
  });

  it("plans a spawn failure: backoff while prompts wait, the breaker after too many, nothing when idle", () => {
    const plan = (failures: number, transient: boolean, promptsWaiting = true) =>
      planAfterSpawnFailure({ failures, transient, promptsWaiting, now: 0, lifecycle: LIFECYCLE });
    expect(plan(1, true)).toEqual({ kind: "retry", retryAt: LIFECYCLE.spawnRetryBaseMs });
    expect(plan(2, true)).toEqual({ kind: "retry", retryAt: 2 * LIFECYCLE.spawnRetryBaseMs });
    expect(plan(2, false)).toEqual({ kind: "retry", retryAt: LIFECYCLE.spawnRetryBaseMs });
    expect(plan(1, true, false)).toEqual({ kind: "wait" });
    expect(plan(LIFECYCLE.circuitBreakerThreshold, true, false)).toEqual({
      kind: "breaker-open",
      retryAt: LIFECYCLE.circuitBreakerCooldownMs,
    });
  });

  it("rests a session as created, failed or idle", () => {
    expect(restingStatus("created", false)).toBe("created");
    expect(restingStatus("failed", false)).toBe("failed");
    expect(restingStatus("running", false)).toBe("idle");
    expect(restingStatus("created", true)).toBe("idle");
  });
});
