import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BridgeEventPayload } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { Agent } from "./agent";
import { systemClock } from "./clock";
import type { AgentCommand } from "./connection";
import { Git, type PrepareRemote } from "./git";
import { silentLogger } from "./logger";
import type { AgentBackend } from "./opencode-driver";
import type { MessageWithParts } from "./opencode-events";
import { SessionRemote } from "./scm/remote";
import { type PermissionRequest, WorkTreeSync } from "./sync-gate";

const OC_SESSION = "ses_sync";
const bot = { name: "Lookout", email: "bot@lookout.local" };
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lookout-sync-"));
  dirs.push(dir);
  return dir;
}

function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "Seed", GIT_AUTHOR_EMAIL: "seed@x", GIT_COMMITTER_NAME: "Seed", GIT_COMMITTER_EMAIL: "seed@x" },
  }).trim();
}

/**
 * OpenCode's stand-in: the test plays its events (`ask` a permission, `status`); what the bridge
 * allows lands in the shared `log`, and an allowed request runs its `onAllowed` (the tool's write).
 */
class FakeOpencode implements AgentBackend {
  readonly sessionId = OC_SESSION;
  readonly prompts: string[] = [];
  readonly allowed: string[] = [];
  /** Requests OpenCode still waits on, as `GET /permission` lists them. */
  readonly open = new Map<string, PermissionRequest>();
  private readonly onAllowed = new Map<string, () => void>();
  private onEvent: (event: unknown) => void = () => {};

  constructor(private readonly log: string[]) {}

  subscribe(onEvent: (event: unknown) => void): void {
    this.onEvent = onEvent;
  }
  async prompt(input: { text: string }): Promise<void> {
    this.prompts.push(input.text);
    this.log.push(`prompt:${input.text}`);
  }
  async abort(): Promise<void> {}
  async isBusy(): Promise<boolean> {
    return false;
  }
  async messages(): Promise<MessageWithParts[]> {
    return [];
  }
  async allowPermission(requestId: string): Promise<void> {
    this.open.delete(requestId);
    this.allowed.push(requestId);
    this.log.push(`allow:${requestId}`);
    this.onAllowed.get(requestId)?.();
  }
  async pendingPermissions(): Promise<PermissionRequest[]> {
    return [...this.open.values()];
  }
  close(): void {}

  /** OpenCode asks before a tool call; `then` is what the tool does once allowed. */
  ask(request: { id: string; permission: "edit" | "bash"; command?: string; pattern?: string }, then?: () => void): void {
    if (then) this.onAllowed.set(request.id, then);
    this.open.set(request.id, { id: request.id, permission: request.permission, command: request.command });
    this.onEvent({
      type: "permission.asked",
      properties: {
        id: request.id,
        sessionID: OC_SESSION,
        permission: request.permission,
        patterns: [request.command ?? request.pattern ?? "*"],
        metadata: request.command ? { command: request.command } : {},
        always: ["*"],
      },
    });
  }
  status(type: "busy" | "idle"): void {
    this.onEvent({ type: "session.status", properties: { sessionID: OC_SESSION, status: { type } } });
  }
}

/** A remote whose fetch waits until the test lets it go (or fails it). */
function heldRemote(inner: PrepareRemote): PrepareRemote & { release(): void; fail(error: Error): void } {
  let release!: () => void;
  let fail!: (error: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  // The fetch may not have reached the gate when the test fails it.
  gate.catch(() => {});
  return { url: inner.url, fetch: async () => (await gate, inner.fetch()), release, fail };
}

/**
 * A sandbox started from an image of `origin` taken one commit ago: the image's checkout, the
 * bridge's agent over a fake OpenCode, and the sync, started, with its fetch held.
 */
async function imageSandbox() {
  const origin = join(tempDir(), "origin");
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", origin]);
  writeFileSync(join(origin, "a.txt"), "a\n");
  sh(origin, "add", "a.txt");
  sh(origin, "commit", "--quiet", "-m", "seed");
  const image = join(tempDir(), "image");
  sh(tempDir(), "clone", "--quiet", origin, image);
  const imageSha = sh(image, "rev-parse", "HEAD");
  writeFileSync(join(origin, "base.txt"), "pushed after the image\n");
  sh(origin, "add", "base.txt");
  sh(origin, "commit", "--quiet", "-m", "after the image");

  const log: string[] = [];
  const emitted: BridgeEventPayload[] = [];
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const emit = (event: BridgeEventPayload): void => {
    emitted.push(event);
    log.push(event.type === "sandbox.sync" ? `sync:${event.phase}` : event.type);
    wake();
  };
  const git = new Git(image, bot, silentLogger);
  const remote = heldRemote(new SessionRemote({ url: origin, git, dir: tempDir(), credentials: undefined, logger: silentLogger }));
  const deferred = await git.prepare({ remote, baseBranch: "main", branch: "lookout/s1" });
  if (!deferred) throw new Error("an existing checkout must defer its sync");
  const sync = new WorkTreeSync({
    run: deferred,
    head: () => git.head(),
    baseBranch: "main",
    emit,
    clock: systemClock,
    logger: silentLogger,
  });
  const backend = new FakeOpencode(log);
  const agent = new Agent({
    backend,
    git,
    emit,
    clock: systemClock,
    logger: silentLogger,
    lookoutSessionId: "sess",
    textFlushIntervalMs: 10,
    completionPollMs: 20,
    sync,
  });
  agent.start();
  sync.start();

  const until = (what: string, condition: () => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${what}; log: ${log.join(", ")}`)), 10_000);
      const check = (): void => {
        if (condition()) {
          clearTimeout(deadline);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  // Backend calls also re-check the waiting conditions.
  const originalAllow = backend.allowPermission.bind(backend);
  backend.allowPermission = async (id) => {
    await originalAllow(id);
    wake();
  };
  const prompt = (promptId: string, text: string): AgentCommand => ({
    type: "command.prompt",
    promptId,
    text,
    author: { userId: "u1", name: "Alice" },
    gitAuthor: { name: "Alice", email: "alice@example.com" },
    model: "scripted/demo",
  });
  return { origin, image, imageSha, git, remote, sync, backend, agent, emitted, log, until, wake, prompt };
}

describe("read before sync", () => {
  it("runs reads during the sync, holds a write until it has finished, then lets it through", async () => {
    const s = await imageSandbox();
    // The agent starts on the image's commit at once: the prompt goes to OpenCode while the fetch waits.
    s.agent.handle(s.prompt("p1", "add a file"));
    await s.until("the prompt sent", () => s.backend.prompts.length === 1);
    expect(s.sync.finished).toBe(false);
    expect(await s.git.head()).toBe(s.imageSha);
    s.backend.status("busy");

    // The write is asked first, the read second: the read is let through, the write waits.
    s.backend.ask({ id: "per_write", permission: "edit", pattern: "agent.txt" }, () => writeFileSync(join(s.image, "agent.txt"), "mine\n"));
    s.backend.ask({ id: "per_read", permission: "bash", command: "git log --oneline -3" });
    s.backend.ask({ id: "per_bash_write", permission: "bash", command: "touch later.txt" });
    await s.until("the read allowed", () => s.backend.allowed.includes("per_read"));
    expect(s.backend.allowed).toEqual(["per_read"]);
    expect(s.sync.finished).toBe(false);

    s.remote.release();
    await s.until("the write allowed", () => s.backend.allowed.includes("per_write") && s.backend.allowed.includes("per_bash_write"));
    expect(existsSync(join(s.image, "agent.txt"))).toBe(true);
    s.backend.status("idle");
    await s.until("p1 finished", () => s.emitted.some((e) => e.type === "prompt.finished"));

    // The timeline: the sync started, the prompt ran and read, the sync finished, then the writes.
    expect(s.log.slice(0, 5)).toEqual(["sync:started", "prompt:add a file", "allow:per_read", "sync:finished", "allow:per_write"]);
    const finished = s.emitted.find((e) => e.type === "sandbox.sync" && e.phase === "finished");
    expect(finished).toMatchObject({
      baseBranch: "main",
      fromSha: s.imageSha,
      toSha: sh(s.origin, "rev-parse", "main"),
      behind: 1,
      heldWrites: 2,
    });
    // The write happened on the synced tree, and the prompt's changes are its own, not the base's.
    expect(existsSync(join(s.image, "base.txt"))).toBe(true);
    const changed = s.emitted.find((e) => e.type === "files.changed");
    expect(changed?.type === "files.changed" && changed.files.map((f) => f.path)).toEqual(["agent.txt"]);
    expect(s.emitted.find((e) => e.type === "prompt.finished")).toMatchObject({ status: "completed" });
    expect(sh(s.image, "rev-parse", "HEAD~1")).toBe(sh(s.origin, "rev-parse", "main"));
  });

  it("reports a failed sync and lets the held write go ahead on the image's commit", async () => {
    const s = await imageSandbox();
    s.backend.ask({ id: "per_write", permission: "edit", pattern: "agent.txt" });
    await s.until("the sync started", () => s.log.includes("sync:started"));
    expect(s.backend.allowed).toEqual([]);
    s.remote.fail(new Error("the remote is unreachable"));
    await s.until("the write allowed", () => s.backend.allowed.includes("per_write"));
    const failed = s.emitted.find((e) => e.type === "sandbox.sync" && e.phase === "failed");
    expect(failed).toMatchObject({ error: "the remote is unreachable", heldWrites: 1, toSha: s.imageSha });
    expect(s.log.indexOf("sync:failed")).toBeLessThan(s.log.indexOf("allow:per_write"));
    expect(await s.git.head()).toBe(s.imageSha);
    await s.agent.shutdown();
  });

  it("after the sync answers at once, and answers a request whose event never arrived", async () => {
    const s = await imageSandbox();
    // OpenCode waits on a request the bridge never heard of (its event stream dropped).
    s.backend.open.set("per_missed", { id: "per_missed", permission: "edit", command: undefined });
    s.remote.release();
    await s.until("the missed request answered", () => s.backend.allowed.includes("per_missed"));
    expect(s.sync.finished).toBe(true);
    s.backend.ask({ id: "per_later", permission: "bash", command: "npm test" });
    await s.until("the later write allowed", () => s.backend.allowed.includes("per_later"));
    expect(s.emitted.filter((e) => e.type === "sandbox.sync").map((e) => e.type === "sandbox.sync" && e.phase)).toEqual([
      "started",
      "finished",
    ]);
    await s.agent.shutdown();
  });
});
