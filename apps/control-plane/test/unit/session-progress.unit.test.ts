import type { SessionCommand, SessionOrigin, SessionOutcome } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { LIFECYCLE } from "../../src/session/lifecycle";
import { PROGRESS } from "../../src/session/progress-reporter";
import { type FakeSocket, Harness } from "./harness";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;
type Progress = Extract<SessionOutcome, { kind: "progress" }>;

const SLACK: SessionOrigin = { kind: "slack", teamId: "T1", channelId: "C1", threadTs: "1700000000.000100" };

function steps(h: Harness): string[] {
  return h.progress.map((outcome) => (outcome as Progress).step.text);
}

/** A Slack-origin session whose first prompt runs on a connected bridge; the throttle window has passed. */
async function running(origin: SessionOrigin = SLACK): Promise<{ h: Harness; bridge: FakeSocket; promptId: string }> {
  const h = new Harness();
  h.create("fix it", origin);
  await h.settle();
  const bridge = h.bridge();
  await h.settle();
  // The first window sends "Thinking" (the step the started prompt is at); the second passes quietly.
  await h.advance(PROGRESS.throttleMs);
  await h.advance(PROGRESS.throttleMs);
  const { promptId } = bridge.messages<PromptCommand>("command.prompt")[0]!;
  return { h, bridge, promptId };
}

function tool(h: Harness, bridge: FakeSocket, promptId: string, callId: string, name: string, command: string, state: string): void {
  bridge.emit(h.core, { type: "tool.call", promptId, callId, tool: name, input: { command, filePath: command }, state });
}

describe("progress reported to the session's origin", () => {
  it("reports the steps a prompt goes through: starting, cloning, thinking, then the tool running", async () => {
    const h = new Harness();
    h.create("fix it", SLACK);
    await h.settle();
    // The first step goes at once; the next within the window waits for it, the latest winning.
    expect(steps(h)).toEqual(["Starting a sandbox"]);
    await h.advance(PROGRESS.throttleMs);
    const bridge = h.bridge();
    await h.settle();
    await h.advance(PROGRESS.throttleMs);
    const { promptId } = bridge.messages<PromptCommand>("command.prompt")[0]!;
    tool(h, bridge, promptId, "c1", "bash", "pnpm test", "running");
    await h.advance(PROGRESS.throttleMs);
    expect(steps(h)).toEqual(["Starting a sandbox", "Cloning the repository", "Thinking", "Running `pnpm test`"]);
    const last = h.progress.at(-1) as Progress;
    expect(last).toMatchObject({ kind: "progress", promptId, origin: SLACK, step: { kind: "running" } });
    expect(last.actions).toEqual([{ tool: "bash", subject: "pnpm test" }]);
  });

  it("coalesces many step changes within the throttle window into one report of the latest step", async () => {
    const { h, bridge, promptId } = await running();
    const before = h.progress.length;
    tool(h, bridge, promptId, "c1", "bash", "ls", "running");
    await h.settle();
    expect(h.progress).toHaveLength(before + 1);
    for (const [i, file] of ["a.ts", "b.ts", "c.ts", "d.ts"].entries()) {
      tool(h, bridge, promptId, `c${i + 2}`, i % 2 ? "edit" : "read", file, "running");
    }
    tool(h, bridge, promptId, "c9", "bash", "pnpm test", "running");
    await h.advance(PROGRESS.throttleMs - 1);
    expect(h.progress).toHaveLength(before + 1);
    await h.advance(1);
    expect(h.progress).toHaveLength(before + 2);
    const latest = h.progress.at(-1) as Progress;
    expect(latest.step.text).toBe("Running `pnpm test`");
    // Every tool step is listed, though only the latest was reported.
    expect(latest.actions.map((action) => action.subject)).toEqual(["ls", "a.ts", "b.ts", "c.ts", "d.ts", "pnpm test"]);
    // Events that change no step (streamed text, the same tool still running) report nothing.
    bridge.emit(h.core, { type: "message.text", promptId, messageId: "m1", text: "working", role: "assistant" });
    tool(h, bridge, promptId, "c9", "bash", "pnpm test", "running");
    await h.advance(PROGRESS.throttleMs * 3);
    expect(h.progress).toHaveLength(before + 2);
  });

  it("drops a step still waiting when its prompt settles: nothing follows the final report", async () => {
    const { h, bridge, promptId } = await running();
    tool(h, bridge, promptId, "c1", "bash", "ls", "running");
    await h.settle();
    tool(h, bridge, promptId, "c2", "bash", "pnpm build", "running");
    tool(h, bridge, promptId, "c2", "bash", "pnpm build", "completed");
    bridge.emit(h.core, { type: "prompt.finished", promptId, status: "completed" });
    await h.advance(PROGRESS.throttleMs * 3);
    expect(steps(h).at(-1)).toBe("Running `ls`");
    expect(h.outcomes.map((outcome) => outcome.kind)).toEqual(["prompt.finished"]);
    // A late event for the settled prompt (the bridge re-sent it) reports nothing either.
    tool(h, bridge, promptId, "c3", "bash", "late", "running");
    await h.advance(PROGRESS.throttleMs * 3);
    expect(steps(h).at(-1)).toBe("Running `ls`");
  });

  it("says a follow-up waits behind the running prompt", async () => {
    const { h, bridge, promptId } = await running();
    const followUp = h.core.enqueuePrompt(
      { userId: "alice", name: "Alice", email: "alice@example.com" },
      { requestId: "second", text: "and more" },
    );
    await h.settle();
    expect(h.progress.at(-1)).toMatchObject({
      promptId: followUp.promptId,
      step: { kind: "queued", text: "Waiting behind another prompt" },
    });
    tool(h, bridge, promptId, "c1", "bash", "ls", "running");
    await h.advance(PROGRESS.throttleMs);
    expect(h.progress.at(-1)).toMatchObject({ promptId, step: { text: "Running `ls`" } });
  });

  it("says a follow-up after the sandbox stopped restores it and syncs the repository instead of cloning", async () => {
    const { h, bridge, promptId } = await running();
    bridge.emit(h.core, { type: "prompt.finished", promptId, status: "completed" });
    for (let elapsed = 0; elapsed < LIFECYCLE.inactivityTimeoutMs; elapsed += 20_000) {
      await h.advance(20_000);
      h.core.onBridgeMessage(bridge, JSON.stringify({ type: "bridge.heartbeat", at: h.now }));
    }
    await h.advance(20_000);
    expect(h.core.state().sandboxStatus).toBe("stopped");
    const before = h.progress.length;
    h.core.enqueuePrompt({ userId: "alice", name: "Alice", email: "alice@example.com" }, { requestId: "again", text: "continue" });
    await h.advance(PROGRESS.throttleMs);
    expect(steps(h).slice(before)).toEqual(["Restoring the sandbox from its snapshot", "Syncing the repository"]);
  });

  it("reports nothing for a session from the dashboard", async () => {
    const { h, bridge, promptId } = await running({ kind: "dashboard" });
    tool(h, bridge, promptId, "c1", "bash", "ls", "running");
    await h.advance(PROGRESS.throttleMs * 2);
    expect(h.progress).toEqual([]);
  });
});
