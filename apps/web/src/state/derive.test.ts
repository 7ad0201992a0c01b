import type { EventPayload } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { ADA, GRACE, ev, queued, text, tool } from "../../test/fixtures";
import { buildTimeline, deriveChanges, totalUsage, typingNames, type PromptBlock } from "./derive";

describe("buildTimeline", () => {
  it("places a prompt where it started, attributed to its author, with the agent's work inside", () => {
    const items = buildTimeline([
      ev(1, { type: "session.created", title: "t", repositoryId: "r_1", baseBranch: "main", model: "scripted/demo", owner: ADA }),
      ev(2, queued("p1", "Fix the bug", GRACE)),
      ev(3, { type: "sandbox.status", status: "spawning" }),
      ev(4, { type: "prompt.started", promptId: "p1" }),
      ev(5, { type: "sandbox.status", status: "ready" }),
      ev(6, text("p1", "m1", "Looking")),
      ev(7, { type: "prompt.finished", promptId: "p1", status: "completed" }),
    ]);
    expect(items.map((item) => item.kind)).toEqual(["notice", "sandbox", "prompt"]);
    const block = items[2] as PromptBlock;
    expect(block.author).toEqual(GRACE);
    expect(block.text).toBe("Fix the bug");
    expect(block.outcome).toBe("completed");
    expect(block.items.map((item) => item.kind)).toEqual(["sandbox", "text"]);
  });

  it("puts pushes and push approvals into the running prompt's block", () => {
    const sha = "d".repeat(40);
    const items = buildTimeline([
      ev(1, queued("p1", "go")),
      ev(2, { type: "prompt.started", promptId: "p1" }),
      ev(3, { type: "git.push", promptId: "p1", branch: "b", headSha: sha, status: "awaiting_approval" }),
      ev(4, { type: "push.approval", approvalId: "a1", branch: "b", headSha: sha, files: ["x"], state: "pending" }),
      ev(5, { type: "prompt.finished", promptId: "p1", status: "completed" }),
      ev(6, { type: "git.push", branch: "b", headSha: sha, status: "pushed" }),
    ]);
    expect(items.map((item) => item.kind)).toEqual(["prompt", "push"]);
    expect((items[0] as PromptBlock).items.map((item) => `${item.kind}:${item.id}`)).toEqual(["push:seq:3", "approval:approval:a1"]);
  });

  it("groups consecutive tool calls and splits groups at text", () => {
    const items = buildTimeline([
      ev(1, queued("p1", "go")),
      ev(2, { type: "prompt.started", promptId: "p1" }),
      ev(3, tool("p1", "c1", "completed")),
      ev(4, tool("p1", "c2", "running")),
      ev(5, text("p1", "m1", "ok")),
      ev(6, tool("p1", "c3", "error", { error: "boom" })),
    ]);
    const block = items[0] as PromptBlock;
    expect(block.items.map((item) => (item.kind === "tools" ? item.calls.map((c) => c.callId).join("+") : item.kind))).toEqual([
      "c1+c2",
      "text",
      "c3",
    ]);
  });

  it("sums step usage per prompt", () => {
    const items = buildTimeline([
      ev(1, queued("p1", "go")),
      ev(2, { type: "prompt.started", promptId: "p1" }),
      ev(3, {
        type: "step.finished",
        promptId: "p1",
        tokens: { input: 100, output: 20, reasoning: 0, cacheRead: 0, cacheWrite: 0 },
        costUsd: 0.01,
      }),
      ev(4, {
        type: "step.finished",
        promptId: "p1",
        tokens: { input: 50, output: 5, reasoning: 3, cacheRead: 7, cacheWrite: 0 },
        costUsd: 0.002,
      }),
    ]);
    const totals = totalUsage((items[0] as PromptBlock).steps);
    expect(totals).toMatchObject({ steps: 2, input: 150, output: 25, reasoning: 3, cacheRead: 7 });
    expect(totals.costUsd).toBeCloseTo(0.012);
  });

  it("keeps a queued prompt out of the timeline until it starts, and shows a cancellation", () => {
    const items = buildTimeline([
      ev(1, queued("p1", "first")),
      ev(2, queued("p2", "second", GRACE)),
      ev(3, { type: "prompt.cancelled", promptId: "p2", by: GRACE }),
    ]);
    expect(items.map((item) => item.kind)).toEqual(["notice"]);
  });

  it("numbers prompts in the order they started and attaches errors and stops", () => {
    const items = buildTimeline([
      ev(1, queued("p1", "a")),
      ev(2, queued("p2", "b")),
      ev(3, { type: "prompt.started", promptId: "p1" }),
      ev(4, { type: "agent.error", promptId: "p1", message: "model refused" }),
      ev(5, { type: "prompt.finished", promptId: "p1", status: "failed", error: "model refused" }),
      ev(6, { type: "prompt.started", promptId: "p2" }),
      ev(7, { type: "stop.requested", promptId: "p2", by: ADA }),
      ev(8, { type: "prompt.finished", promptId: "p2", status: "stopped" }),
      ev(9, { type: "agent.error", message: "sandbox died" }),
    ]);
    const [first, second, loose] = items as [PromptBlock, PromptBlock, { kind: string }];
    expect([first.number, first.outcome, first.error]).toEqual([1, "failed", "model refused"]);
    expect(first.items.map((item) => item.kind)).toEqual(["error"]);
    expect([second.number, second.outcome]).toEqual([2, "stopped"]);
    expect(second.items.map((item) => item.kind)).toEqual(["stop"]);
    expect(loose.kind).toBe("error");
  });
});

describe("deriveChanges", () => {
  it("lists change sets newest first, and commits and artifacts newest first", () => {
    const changes = deriveChanges([
      ev(1, { type: "files.changed", promptId: "p1", files: [{ path: "a.ts", change: "added" }], diff: "d1" }),
      ev(2, { type: "git.commit", promptId: "p1", sha: "abcdef1", branch: "b", message: "one", author: { name: "A", email: "a@x" } }),
      ev(3, { type: "artifact", artifactId: "pr1", kind: "pull_request", title: "PR #1", url: "https://example.com/pr/1" }),
      ev(4, { type: "files.changed", promptId: "p2", files: [{ path: "b.ts", change: "modified" }], diff: "d2" }),
      ev(5, { type: "git.commit", promptId: "p2", sha: "abcdef2", branch: "b", message: "two", author: { name: "A", email: "a@x" } }),
    ]);
    expect(changes.changeSets.map((set) => set.promptId)).toEqual(["p2", "p1"]);
    expect(changes.commits.map((commit) => commit.message)).toEqual(["two", "one"]);
    expect(changes.artifacts).toHaveLength(1);
  });

  it("keeps the pull request's latest row and the pushes still waiting for a decision", () => {
    const sha = "c".repeat(40);
    const approval = (approvalId: string, state: "pending" | "approved"): EventPayload => ({
      type: "push.approval",
      approvalId,
      branch: "b",
      headSha: sha,
      files: [".github/workflows/ci.yml"],
      state,
    });
    const changes = deriveChanges([
      ev(1, approval("a1", "approved")),
      ev(4, { type: "artifact", artifactId: "pr1", kind: "pull_request", title: "PR", data: { state: "merged" } }),
      ev(5, approval("a2", "pending")),
      ev(6, { type: "artifact", artifactId: "s1", kind: "screenshot", title: "shot" }),
    ]);
    expect(changes.pullRequest).toMatchObject({ artifactId: "pr1", seq: 4, data: { state: "merged" } });
    expect(changes.pendingApprovals.map((entry) => entry.approvalId)).toEqual(["a2"]);
  });
});

describe("typingNames", () => {
  it("names the others who are typing", () => {
    const entry = (author: typeof ADA, typing: boolean) => ({
      participant: author,
      role: "member" as const,
      status: "active" as const,
      typing,
      connections: 1,
    });
    expect(typingNames([entry(ADA, true), entry(GRACE, true)], ADA.userId)).toEqual(["Grace Hopper"]);
    expect(typingNames([entry(ADA, false)], null)).toEqual([]);
  });
});
