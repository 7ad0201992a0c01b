import type { SessionCommand } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { LIFECYCLE } from "../../src/session/lifecycle";
import { Harness } from "./harness";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;

async function runningSession(prompt = "do the thing") {
  const h = new Harness();
  h.create(prompt);
  await h.settle();
  const bridge = h.bridge();
  await h.settle();
  const command = bridge.messages<PromptCommand>("command.prompt")[0];
  if (!command) throw new Error("the prompt was not dispatched");
  return { h, bridge, command };
}

describe("sandbox lifecycle", () => {
  it("spawns on the first prompt, passes secrets and attribution, and runs it once the bridge is ready", async () => {
    const { h, command } = await runningSession();
    const request = h.gateway.created[0]!;
    expect(request.env).toEqual({ API_TOKEN: "s3cret" });
    expect(request.repository).toEqual({ kind: "local", path: "/srv/demo" });
    expect(request.branch).toBe("lookout/ses_test");
    expect(command.gitAuthor).toEqual({ name: "Alice", email: "alice@example.com" });
    expect(h.core.state()).toMatchObject({ status: "running", sandboxStatus: "running" });
    expect(h.eventTypes()).toEqual([
      "session.created",
      "prompt.queued",
      "sandbox.status",
      "sandbox.status",
      "sandbox.status",
      "prompt.started",
    ]);
  });

  it("pre-warms a sandbox when someone types", async () => {
    const h = new Harness();
    h.create();
    const alice = h.client("alice");
    h.core.onClientMessage(alice, JSON.stringify({ type: "typing", typing: true }));
    await h.settle();
    expect(h.gateway.created).toHaveLength(1);
    expect(h.core.state().sandboxStatus).toBe("connecting");
  });

  it("marks a silent sandbox stale, fails its prompt, and starts a fresh one for the next prompt", async () => {
    const { h, command } = await runningSession();
    h.core.enqueuePrompt({ userId: "bob", name: "Bob" }, { requestId: "next", text: "follow-up" });
    await h.advance(LIFECYCLE.heartbeatTimeoutMs + 1);
    expect(h.core.detail().queue.map((p) => [p.text, p.status])).toEqual([["follow-up", "pending"]]);
    expect(h.core.eventsAfter(0, 100).events.find((e) => e.payload.type === "prompt.finished")?.payload).toMatchObject({
      promptId: command.promptId,
      status: "failed",
    });
    expect(h.gateway.terminated).toEqual([h.gateway.created[0]!.sandboxId]);
    expect(h.gateway.created).toHaveLength(2);
    const fresh = h.bridge();
    await h.settle();
    expect(fresh.messages<PromptCommand>("command.prompt")[0]?.text).toBe("follow-up");
    expect(fresh.messages<PromptCommand>("command.prompt")[0]?.gitAuthor.name).toBe("Bob");
  });

  it("gives a dropped bridge a grace period to reconnect, then replaces the sandbox", async () => {
    const { h, bridge } = await runningSession();
    h.disconnect(bridge);
    await h.advance(LIFECYCLE.reconnectGraceMs / 2);
    const back = h.bridge();
    await h.advance(LIFECYCLE.reconnectGraceMs);
    expect(h.core.state().sandboxStatus).toBe("running");
    h.disconnect(back);
    await h.advance(LIFECYCLE.reconnectGraceMs + 1);
    expect(h.core.state().sandboxStatus).toBe("stale");
    expect(h.core.eventsAfter(0, 100).events.at(-1)?.payload).toMatchObject({ type: "prompt.finished", status: "failed" });
  });

  it("keeps a sandbox alive while it heartbeats", async () => {
    const { h, bridge } = await runningSession();
    for (let i = 0; i < 10; i++) {
      await h.advance(LIFECYCLE.heartbeatTimeoutMs / 3);
      h.core.onBridgeMessage(bridge, JSON.stringify({ type: "bridge.heartbeat", at: h.now }));
    }
    expect(h.core.state().sandboxStatus).toBe("running");
    expect(h.gateway.terminated).toEqual([]);
  });

  it("snapshots and stops an idle sandbox, then restores the snapshot for the next prompt", async () => {
    const { h, bridge, command } = await runningSession();
    bridge.emit(h.core, { type: "prompt.finished", promptId: command.promptId, status: "completed" });
    expect(h.core.state()).toMatchObject({ status: "idle", sandboxStatus: "idle" });
    for (let elapsed = 0; elapsed < LIFECYCLE.inactivityTimeoutMs; elapsed += 20_000) {
      await h.advance(20_000);
      h.core.onBridgeMessage(bridge, JSON.stringify({ type: "bridge.heartbeat", at: h.now }));
    }
    await h.advance(20_000);
    const first = h.gateway.created[0]!.sandboxId;
    // One snapshot after the prompt finished, one before the idle sandbox stopped.
    expect(h.gateway.snapshots).toEqual([first, first]);
    expect(h.gateway.terminated).toEqual([first]);
    expect(h.core.state().sandboxStatus).toBe("stopped");
    expect(bridge.closed).toBe(true);

    h.core.enqueuePrompt({ userId: "alice", name: "Alice" }, { requestId: "again", text: "continue" });
    await h.settle();
    expect(h.gateway.created[1]?.snapshotId).toBe(`snap-${first}-2`);
  });

  it("does not snapshot after each prompt when a snapshot would stop the sandbox", async () => {
    const h = new Harness();
    h.gateway.snapshotStopsSandbox = true;
    h.create("go");
    await h.settle();
    const bridge = h.bridge();
    await h.settle();
    const command = bridge.messages<PromptCommand>("command.prompt")[0]!;
    bridge.emit(h.core, { type: "prompt.finished", promptId: command.promptId, status: "completed" });
    await h.settle();
    expect(h.gateway.snapshots).toEqual([]);
    expect(h.core.state().sandboxStatus).toBe("idle");
  });

  it("stops a runaway prompt at the execution limit and replaces a sandbox that ignores the stop", async () => {
    const { h, bridge, command } = await runningSession();
    for (let elapsed = 0; elapsed <= LIFECYCLE.executionTimeoutMs; elapsed += 30_000) {
      await h.advance(30_000);
      h.core.onBridgeMessage(bridge, JSON.stringify({ type: "bridge.heartbeat", at: h.now }));
    }
    expect(bridge.messages("command.stop")).toEqual([{ type: "command.stop", promptId: command.promptId }]);
    await h.advance(LIFECYCLE.stopConfirmationMs + 1);
    const finished = h.core.eventsAfter(0, 1000).events.filter((e) => e.payload.type === "prompt.finished");
    expect(finished.map((e) => e.payload)).toEqual([expect.objectContaining({ promptId: command.promptId, status: "stopped" })]);
    expect(h.core.state().sandboxStatus).toBe("stale");
  });

  it("retries transient spawn failures with backoff", async () => {
    const h = new Harness();
    h.gateway.failures = ["transient", "transient"];
    h.create("go");
    await h.settle();
    expect(h.gateway.created).toHaveLength(0);
    await h.advance(LIFECYCLE.spawnRetryBaseMs);
    expect(h.gateway.created).toHaveLength(0);
    await h.advance(LIFECYCLE.spawnRetryBaseMs * 2);
    expect(h.gateway.created).toHaveLength(1);
    expect(h.core.state().sandboxStatus).toBe("connecting");
  });

  it("opens the circuit breaker after repeated permanent failures, tells the session, and keeps the queue", async () => {
    const h = new Harness();
    h.gateway.failures = ["permanent", "permanent", "permanent", "permanent"];
    h.create("go");
    await h.settle();
    await h.advance(LIFECYCLE.spawnRetryBaseMs);
    await h.advance(LIFECYCLE.spawnRetryBaseMs);
    const errors = h.core.eventsAfter(0, 100).events.filter((e) => e.payload.type === "agent.error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.payload).toMatchObject({ code: "SANDBOX_UNAVAILABLE" });
    expect(h.core.detail().queue).toHaveLength(1);
    const attempts = h.gateway.failures.length;
    await h.advance(LIFECYCLE.circuitBreakerCooldownMs / 2);
    expect(h.gateway.failures.length).toBe(attempts);
    await h.advance(LIFECYCLE.circuitBreakerCooldownMs / 2 + 1);
    expect(h.gateway.failures.length).toBe(attempts - 1);
  });

  it("ignores a superseded bridge and refuses events for unknown prompts", async () => {
    const { h, bridge } = await runningSession();
    const before = h.core.eventsAfter(0, 100).latestSeq;
    bridge.emit(h.core, { type: "message.text", promptId: "pmt_unknown", messageId: "m", text: "hi" });
    expect(bridge.messages("error")).toEqual([expect.objectContaining({ code: "PROMPT_NOT_FOUND" })]);
    expect(h.core.eventsAfter(0, 100).latestSeq).toBe(before);
  });
});

describe("presence", () => {
  it("counts a person once across tabs and shows typing", async () => {
    const h = new Harness();
    h.create();
    const a1 = h.client("alice");
    h.client("alice");
    const bob = h.client("bob");
    h.core.onClientMessage(a1, JSON.stringify({ type: "typing", typing: true }));
    const latest = bob
      .messages<{ type: "presence"; entries: { participant: { userId: string }; typing: boolean; connections: number }[] }>("presence")
      .at(-1)!;
    expect(latest.entries.map((e) => [e.participant.userId, e.connections, e.typing])).toEqual([
      ["alice", 2, true],
      ["bob", 1, false],
    ]);
    h.disconnect(bob);
    const afterLeave = a1.messages<{ type: "presence"; entries: { participant: { userId: string } }[] }>("presence").at(-1)!;
    expect(afterLeave.entries.map((e) => e.participant.userId)).toEqual(["alice"]);
  });
});
