import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BridgeEventPayload } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { Agent, type BranchPusher, errorCode } from "./agent";
import { systemClock } from "./clock";
import type { AgentCommand } from "./connection";
import { Git } from "./git";
import { silentLogger } from "./logger";
import type { AgentBackend } from "./opencode-driver";
import type { MessageWithParts } from "./opencode-events";
import { commitMessage } from "./prompt-commit";

const OC_SESSION = "ses_test";

/** An OpenCode stand-in: records prompts; the test plays its events. */
class FakeBackend implements AgentBackend {
  readonly sessionId = OC_SESSION;
  readonly prompts: string[] = [];
  aborts = 0;
  polls = 0;
  busy = false;
  rejectPrompts = false;
  /** Called after each call the agent makes, so tests can wait on backend activity. */
  onActivity: () => void = () => {};
  private onEvent: (event: unknown) => void = () => {};

  subscribe(onEvent: (event: unknown) => void): void {
    this.onEvent = onEvent;
  }
  async prompt(input: { text: string }): Promise<void> {
    if (this.rejectPrompts) throw new Error("HTTP 400: unknown model");
    this.prompts.push(input.text);
    this.onActivity();
  }
  async abort(): Promise<void> {
    this.aborts++;
    this.onActivity();
  }
  async isBusy(): Promise<boolean> {
    this.polls++;
    queueMicrotask(() => this.onActivity());
    return this.busy;
  }
  async messages(): Promise<MessageWithParts[]> {
    return [];
  }
  async allowPermission(): Promise<void> {}
  async pendingPermissions(): Promise<[]> {
    return [];
  }
  close(): void {}
  status(type: "busy" | "idle"): void {
    this.onEvent({ type: "session.status", properties: { sessionID: OC_SESSION, status: { type } } });
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(options: { pusher?: BranchPusher } = {}) {
  const repo = mkdtempSync(join(tmpdir(), "lookout-agent-"));
  dirs.push(repo);
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", repo]);
  writeFileSync(join(repo, "a.txt"), "a\n");
  execFileSync("git", ["-c", "user.name=S", "-c", "user.email=s@x", "add", "a.txt"], { cwd: repo });
  execFileSync("git", ["-c", "user.name=S", "-c", "user.email=s@x", "commit", "--quiet", "-m", "seed"], { cwd: repo });
  const backend = new FakeBackend();
  const emitted: BridgeEventPayload[] = [];
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  backend.onActivity = wake;
  const agent = new Agent({
    backend,
    git: new Git(repo, { name: "Lookout", email: "bot@lookout.local" }, silentLogger),
    emit: (event) => {
      emitted.push(event);
      wake();
    },
    clock: systemClock,
    logger: silentLogger,
    lookoutSessionId: "sess",
    textFlushIntervalMs: 10,
    completionPollMs: 20,
    stopGraceMs: 200,
    ...(options.pusher ? { pusher: options.pusher } : {}),
  });
  agent.start();
  /** Resolves when the condition holds, re-checked on every emit and backend call; fails after a deadline. */
  const until = (what: string, condition: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 4_000);
      const check = (): void => {
        if (condition()) {
          clearTimeout(deadline);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  /** Resolves with the first emitted event satisfying `predicate`. */
  const waitFor = async (what: string, predicate: (e: BridgeEventPayload) => boolean): Promise<BridgeEventPayload | undefined> => {
    await until(what, () => emitted.some(predicate));
    return emitted.find(predicate);
  };
  const prompt = (promptId: string, text = "do it"): AgentCommand => ({
    type: "command.prompt",
    promptId,
    text,
    author: { userId: "u1", name: "Alice" },
    gitAuthor: { name: "Alice", email: "alice@example.com" },
    model: "scripted/demo",
  });
  const finishedOf = (promptId: string) => (e: BridgeEventPayload) => e.type === "prompt.finished" && e.promptId === promptId;
  return { repo, backend, emitted, agent, until, waitFor, prompt, finishedOf };
}

describe("Agent", () => {
  it("finishes a prompt when OpenCode goes idle after working", async () => {
    const { backend, agent, until, waitFor, prompt, finishedOf } = setup();
    agent.handle(prompt("p1"));
    await until("prompt sent", () => backend.prompts.length === 1);
    backend.status("busy");
    backend.status("idle");
    expect(await waitFor("p1 finished", finishedOf("p1"))).toMatchObject({ status: "completed" });
  });

  it("does not take an idle seen before the run started for completion, and polls if idle is missed", async () => {
    const { backend, agent, emitted, until, waitFor, prompt, finishedOf } = setup();
    agent.handle(prompt("p1"));
    await until("prompt sent", () => backend.prompts.length === 1);
    backend.status("idle");
    expect(emitted.some(finishedOf("p1"))).toBe(false);
    // The run starts (seen only by polling) and ends without an idle event.
    backend.busy = true;
    const polled = backend.polls;
    await until("a poll while busy", () => backend.polls > polled);
    backend.busy = false;
    expect(await waitFor("p1 finished", finishedOf("p1"))).toMatchObject({ status: "completed" });
  });

  it("stops a queued prompt without running it, and a running one by aborting", async () => {
    const { backend, agent, until, waitFor, prompt, finishedOf } = setup();
    agent.handle(prompt("p1"));
    agent.handle(prompt("p2"));
    agent.handle({ type: "command.stop", promptId: "p2" });
    expect(await waitFor("p2 stopped", finishedOf("p2"))).toMatchObject({ status: "stopped" });
    await until("p1 sent", () => backend.prompts.length === 1);
    backend.status("busy");
    agent.handle({ type: "command.stop", promptId: "p1" });
    // OpenCode never confirms: the stop grace period ends the prompt anyway.
    expect(await waitFor("p1 stopped", finishedOf("p1"))).toMatchObject({ status: "stopped" });
    expect(backend.aborts).toBe(1);
    expect(backend.prompts).toEqual(["do it"]);
  });

  it("fails a prompt OpenCode refuses, with an agent.error first", async () => {
    const { backend, agent, emitted, waitFor, prompt, finishedOf } = setup();
    backend.rejectPrompts = true;
    agent.handle(prompt("p1"));
    expect(await waitFor("p1 failed", finishedOf("p1"))).toMatchObject({ status: "failed", error: "HTTP 400: unknown model" });
    expect(emitted.map((e) => e.type)).toEqual(["agent.error", "prompt.finished"]);
    expect(emitted[0]).toMatchObject({ code: "PROMPT_REJECTED" });
  });

  it("commits what the agent changed, as the prompting user", async () => {
    const { repo, backend, agent, emitted, until, waitFor, prompt, finishedOf } = setup();
    agent.handle(prompt("p1", "Add b\nwith details"));
    await until("prompt sent", () => backend.prompts.length === 1);
    backend.status("busy");
    writeFileSync(join(repo, "b.txt"), "b\n");
    backend.status("idle");
    await waitFor("p1 finished", finishedOf("p1"));
    expect(emitted.map((e) => e.type)).toEqual(["files.changed", "git.commit", "prompt.finished"]);
    expect(emitted[1]).toMatchObject({ author: { name: "Alice", email: "alice@example.com" }, branch: "main" });
  });

  it("pushes after the commit and before the prompt finishes, and hands push decisions to the pusher in turn", async () => {
    const calls: string[] = [];
    let sent: BridgeEventPayload[] = [];
    const pusher: BranchPusher = {
      afterCommit: async (promptId) => void calls.push(`push ${promptId} after ${sent.map((e) => e.type).join(",")}`),
      onDecision: async (command) => void calls.push(`${command.decision} ${command.approvalId}`),
    };
    const { repo, backend, agent, emitted, until, waitFor, prompt, finishedOf } = setup({ pusher });
    sent = emitted;
    agent.handle(prompt("p1"));
    await until("prompt sent", () => backend.prompts.length === 1);
    agent.handle({ type: "command.push.decided", approvalId: "apr_1", headSha: "a".repeat(40), decision: "approve" });
    backend.status("busy");
    writeFileSync(join(repo, "b.txt"), "b\n");
    backend.status("idle");
    await waitFor("p1 finished", finishedOf("p1"));
    // The decision waited for the running prompt, so its push cannot race the prompt's own.
    await until("the decision", () => calls.length === 2);
    expect(calls).toEqual(["push p1 after files.changed,git.commit", "approve apr_1"]);
    expect(emitted.map((e) => e.type)).toEqual(["files.changed", "git.commit", "prompt.finished"]);
  });

  it("reports a push that throws without failing the prompt", async () => {
    const pusher: BranchPusher = {
      afterCommit: async () => {
        throw new Error("remote unreachable");
      },
      onDecision: async () => undefined,
    };
    const { backend, agent, emitted, until, waitFor, prompt, finishedOf } = setup({ pusher });
    agent.handle(prompt("p1"));
    await until("prompt sent", () => backend.prompts.length === 1);
    backend.status("busy");
    backend.status("idle");
    expect(await waitFor("p1 finished", finishedOf("p1"))).toMatchObject({ status: "completed" });
    expect(emitted.find((e) => e.type === "agent.error")).toMatchObject({ code: "GIT_PUSH_FAILED", promptId: "p1" });
  });

  it("finishes queued prompts and the running one as stopped on shutdown", async () => {
    const { backend, agent, emitted, until, prompt, finishedOf } = setup();
    agent.handle(prompt("p1"));
    agent.handle(prompt("p2"));
    await until("p1 sent", () => backend.prompts.length === 1);
    const done = agent.shutdown();
    await done;
    expect(emitted.filter((e) => e.type === "prompt.finished").map((e) => e.type === "prompt.finished" && [e.promptId, e.status])).toEqual([
      ["p2", "stopped"],
      ["p1", "stopped"],
    ]);
    expect(emitted.some(finishedOf("p1"))).toBe(true);
  });
});

describe("helpers", () => {
  it("derive commit messages from the prompt", () => {
    expect(commitMessage("\n  Fix the login bug  \nmore", "Alice", "s1", "p1")).toBe(
      "Fix the login bug\n\nPrompted by Alice in Lookout.\n\nLookout-Session: s1\nLookout-Prompt: p1",
    );
    expect(commitMessage("x".repeat(100), "A", "s", "p").split("\n")[0]).toHaveLength(72);
    expect(commitMessage("   ", "A", "s", "p").split("\n")[0]).toBe("Lookout changes");
  });

  it("turn OpenCode error names into registry codes, and names it does not know into AGENT_FAILED", () => {
    expect(errorCode("APIError")).toBe("MODEL_API_ERROR");
    expect(errorCode("MessageOutputLengthError")).toBe("MODEL_OUTPUT_TOO_LONG");
    expect(errorCode("PROMPT_REJECTED")).toBe("PROMPT_REJECTED");
    expect(errorCode("SomeFutureError")).toBe("AGENT_FAILED");
    expect(errorCode("constructor")).toBe("AGENT_FAILED");
  });
});
