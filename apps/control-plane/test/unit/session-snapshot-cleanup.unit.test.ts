import type { SessionCommand } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { LIFECYCLE } from "../../src/session/lifecycle";
import { RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS, RETIRED_SNAPSHOT_MAX_ATTEMPTS } from "../../src/session/retired-snapshots";
import { type FakeSocket, Harness } from "./harness";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;

/** A session whose first prompt runs on a ready sandbox. */
async function runningSession() {
  const h = new Harness();
  h.create("do the thing");
  await h.settle();
  const bridge = h.bridge();
  await h.settle();
  return { h, bridge };
}

/** Finishes the running prompt (the session snapshots the sandbox after it). */
async function finishPrompt(h: Harness, bridge: FakeSocket): Promise<void> {
  const command = bridge.messages<PromptCommand>("command.prompt").at(-1);
  if (!command) throw new Error("no prompt was dispatched");
  bridge.emit(h.core, { type: "prompt.finished", promptId: command.promptId, status: "completed" });
  await h.settle();
}

/** Keeps the bridge heartbeating, 10 s at a time, until the idle sandbox is snapshotted and stopped. */
async function idleUntilStopped(h: Harness, bridge: FakeSocket): Promise<void> {
  for (let elapsed = 0; h.core.state().sandboxStatus !== "stopped"; elapsed += 10_000) {
    if (elapsed > 2 * LIFECYCLE.inactivityTimeoutMs) throw new Error("the idle sandbox was not stopped");
    await h.advance(10_000);
    if (!bridge.closed) h.core.onBridgeMessage(bridge, JSON.stringify({ type: "bridge.heartbeat", at: h.now }));
  }
}

/** Lets the clock run in steps so every alarm due on the way fires, the bridge (if any) heartbeating. */
async function wait(h: Harness, ms: number, options: { step?: number; bridge?: FakeSocket } = {}): Promise<void> {
  const step = options.step ?? 10_000;
  for (let elapsed = 0; elapsed < ms; elapsed += step) {
    await h.advance(Math.min(step, ms - elapsed));
    if (options.bridge && !options.bridge.closed)
      h.core.onBridgeMessage(options.bridge, JSON.stringify({ type: "bridge.heartbeat", at: h.now }));
  }
}

describe("a session's replaced snapshots", () => {
  it("are deleted from the provider; the snapshot the session would restore never is", async () => {
    const { h, bridge } = await runningSession();
    const first = h.gateway.created[0]!.sandboxId;
    await finishPrompt(h, bridge);
    // The first snapshot replaced nothing.
    await wait(h, 2 * RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS, { bridge });
    expect(h.gateway.deletedSnapshots).toEqual([]);

    // Hibernating snapshots again: the one after the prompt is replaced, and as the sandbox is gone
    // it goes at once (the next wake), not a minute later.
    await idleUntilStopped(h, bridge);
    expect(h.gateway.deletedSnapshots).toEqual([]);
    await h.advance(1);
    expect(h.gateway.deletedSnapshots).toEqual([`snap-${first}-1`]);

    // The next prompt restores the newest; after it, that one is replaced in turn.
    h.core.enqueuePrompt({ userId: "alice", name: "Alice" }, { requestId: "again", text: "continue" });
    await h.settle();
    expect(h.gateway.created[1]?.snapshotId).toBe(`snap-${first}-2`);
    const second = h.gateway.created[1]!.sandboxId;
    const bridge2 = h.bridge();
    await h.settle();
    await finishPrompt(h, bridge2);
    await wait(h, RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS + 1, { bridge: bridge2 });
    expect(h.gateway.deletedSnapshots).toEqual([`snap-${first}-1`, `snap-${first}-2`]);
    expect(h.gateway.deletedSnapshots).not.toContain(`snap-${second}-1`);
    expect(h.core.state().sandboxStatus).not.toBe("stopped");
  });

  it("tries a refused deletion again later, backing off, until the provider deletes it", async () => {
    const { h, bridge } = await runningSession();
    const first = h.gateway.created[0]!.sandboxId;
    await finishPrompt(h, bridge);
    h.core.enqueuePrompt({ userId: "alice", name: "Alice" }, { requestId: "two", text: "again" });
    await h.settle();
    await finishPrompt(h, bridge);
    // A sandbox still runs from it: refused twice, then deleted.
    h.gateway.deleteFailures = ["CONFLICT", "CONFLICT"];
    await wait(h, RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS + 1, { bridge });
    expect(h.gateway.deleteFailures).toEqual(["CONFLICT"]);
    expect(h.gateway.deletedSnapshots).toEqual([]);
    // The second try waits twice as long as the first.
    await wait(h, RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS, { bridge });
    expect(h.gateway.deleteFailures).toEqual(["CONFLICT"]);
    await wait(h, RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS + 1, { bridge });
    expect(h.gateway.deleteFailures).toEqual([]);
    expect(h.gateway.deletedSnapshots).toEqual([]);
    await wait(h, 4 * RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS + 1, { bridge });
    expect(h.gateway.deletedSnapshots).toEqual([`snap-${first}-1`]);
    // Deleted once, and not asked for again (hibernating meanwhile retires the next one).
    await wait(h, 20 * RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS, { bridge });
    expect(h.gateway.deletedSnapshots.filter((id) => id === `snap-${first}-1`)).toHaveLength(1);
  });

  it("gives up after its last try and stops waking the session for it", async () => {
    const { h, bridge } = await runningSession();
    await finishPrompt(h, bridge);
    h.core.enqueuePrompt({ userId: "alice", name: "Alice" }, { requestId: "two", text: "again" });
    await h.settle();
    await finishPrompt(h, bridge);
    h.gateway.deleteFailures = Array.from({ length: 100 }, () => "INTERNAL");
    await wait(h, 3 * 24 * 3600_000, { step: 10 * 60_000 });
    expect(100 - h.gateway.deleteFailures.length).toBe(RETIRED_SNAPSHOT_MAX_ATTEMPTS);
    expect(h.gateway.deletedSnapshots).toEqual([]);
  });
});
