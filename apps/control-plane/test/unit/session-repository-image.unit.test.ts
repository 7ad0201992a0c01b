import { describe, expect, it } from "vitest";
import { LIFECYCLE } from "../../src/session/lifecycle";
import { Harness } from "./harness";

describe("a session's sandbox and the repository image", () => {
  it("starts a new session's sandbox from the repository's newest image, and says so", async () => {
    const h = new Harness();
    const asked: string[] = [];
    h.repositoryImage = async (repositoryId, baseBranch) => {
      asked.push(`${repositoryId}@${baseBranch}`);
      return "snap_image_1";
    };
    h.create("do the thing");
    await h.settle();
    expect(h.gateway.created[0]?.snapshotId).toBe("snap_image_1");
    expect(asked).toEqual([`${h.core.state().repositoryId}@main`]);
    const connecting = h.core
      .eventsAfter(0, 100)
      .events.map((e) => e.payload)
      .find((p) => p.type === "sandbox.status" && p.status === "connecting");
    expect(connecting).toMatchObject({ detail: "Started from the repository's image." });
  });

  it("marks the create as from the image, so a warm sandbox may take it, and then says a warm sandbox did", async () => {
    const h = new Harness();
    h.repositoryImage = async () => "snap_image_1";
    h.gateway.warm = true;
    h.create("do the thing");
    await h.settle();
    expect(h.gateway.created[0]).toMatchObject({ snapshotId: "snap_image_1", fromImage: true });
    const connecting = h.core
      .eventsAfter(0, 100)
      .events.map((e) => e.payload)
      .find((p) => p.type === "sandbox.status" && p.status === "connecting");
    expect(connecting).toMatchObject({ detail: "A warm sandbox took the session." });
  });

  it("clones when the repository has no image or the lookup fails", async () => {
    const none = new Harness();
    none.create("go");
    await none.settle();
    expect(none.gateway.created[0]?.snapshotId).toBeUndefined();

    const failing = new Harness();
    failing.repositoryImage = async () => {
      throw new Error("D1 is unreachable");
    };
    failing.create("go");
    await failing.settle();
    expect(failing.gateway.created).toHaveLength(1);
    expect(failing.gateway.created[0]?.snapshotId).toBeUndefined();
  });

  it("restores the session's own snapshot after idle, not the image", async () => {
    const h = new Harness();
    h.repositoryImage = async () => "snap_image_1";
    h.create("first");
    await h.settle();
    const bridge = h.bridge();
    await h.settle();
    const promptId = h.core.detail().queue[0]?.promptId ?? "";
    bridge.emit(h.core, { type: "prompt.finished", promptId, status: "completed" });
    for (let elapsed = 0; elapsed < LIFECYCLE.inactivityTimeoutMs; elapsed += 20_000) {
      await h.advance(20_000);
      h.core.onBridgeMessage(bridge, JSON.stringify({ type: "bridge.heartbeat", at: h.now }));
    }
    await h.advance(20_000);
    expect(h.core.state().sandboxStatus).toBe("stopped");
    const first = h.gateway.created[0]!.sandboxId;
    h.core.enqueuePrompt({ userId: "alice", name: "Alice" }, { requestId: "again", text: "continue" });
    await h.settle();
    expect(h.gateway.created[1]?.snapshotId).toBe(`snap-${first}-2`);
  });
});
