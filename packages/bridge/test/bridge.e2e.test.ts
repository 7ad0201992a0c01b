import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BridgeEventPayload, SessionCommand } from "@lookout/protocol";
import { startScriptedModel, type ScriptedModel } from "@lookout/scripted-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSession } from "./support/fake-session";
import { localPullRequest } from "./support/pull-request";

/**
 * End to end: the bundled bridge as a child process, the real opencode binary, a temp git
 * repository, the scripted model and a fake session socket. Each test waits for observable
 * state with a deadline.
 */

const SESSION_ID = "sess_e2e";
const SANDBOX_ID = "sbx_e2e";
const TOKEN = "sandbox-token-e2e";
const BRIDGE_BUNDLE = fileURLToPath(new URL("../dist/bridge.mjs", import.meta.url));
const OPENCODE_BIN = join(dirname(createRequire(import.meta.url).resolve("opencode-ai/package.json")), "bin", "opencode.exe");
const MEDIUM_WORDS = Array.from({ length: 50 }, (_, i) => `m${i + 1}`).join(" ");

const alice = { userId: "u_alice", name: "Alice Example", email: "alice@example.com" };
const aliceGit = { name: "Alice Example", email: "alice@example.com" };

let model: ScriptedModel;
let session: FakeSession;
let bridge: ChildProcess;
let bridgeExit: Promise<number | null>;
let repo: string;
let scratch: string;
let bridgeLog = "";
const spawnedPids = new Set<number>();

function git(...args: string[]): string {
  return execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
}

function prompt(promptId: string, text: string): SessionCommand {
  return { type: "command.prompt", promptId, text, author: alice, gitAuthor: aliceGit, model: "scripted/default" };
}

function finished(promptId: string) {
  return (): Extract<BridgeEventPayload, { type: "prompt.finished" }> | undefined =>
    session.events("prompt.finished").find((e) => e.promptId === promptId);
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "lookout-bridge-e2e-"));
  repo = join(scratch, "repo");
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", repo]);
  writeFileSync(join(repo, "README.md"), "# Fixture repository\n");
  execFileSync("git", ["-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "--quiet", "--allow-empty", "-m", "seed"], {
    cwd: repo,
  });
  git("add", "README.md");
  execFileSync("git", ["-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "--quiet", "-m", "readme"], { cwd: repo });

  model = await startScriptedModel({
    scripts: [{ name: "medium", match: "^medium stream", steps: [{ text: MEDIUM_WORDS, chunkChars: 1, delayMs: 60 }] }],
  });
  session = await FakeSession.start({ sessionId: SESSION_ID, sandboxId: SANDBOX_ID, token: TOKEN });

  bridge = spawn(process.execPath, [BRIDGE_BUNDLE], {
    env: {
      PATH: process.env.PATH,
      LOOKOUT_SESSION_ID: SESSION_ID,
      LOOKOUT_SANDBOX_ID: SANDBOX_ID,
      LOOKOUT_SANDBOX_TOKEN: TOKEN,
      LOOKOUT_CONTROL_PLANE_URL: session.baseUrl,
      LOOKOUT_WORKDIR: repo,
      LOOKOUT_BASE_BRANCH: "main",
      LOOKOUT_BRANCH: `lookout/${SESSION_ID}`,
      LOOKOUT_MODEL: "scripted/default",
      LOOKOUT_MODEL_PROVIDERS: JSON.stringify([
        { id: "scripted", kind: "openai-compatible", baseUrl: model.url, apiKey: "offline", models: ["default"] },
      ]),
      LOOKOUT_OPENCODE_BIN: OPENCODE_BIN,
      LOOKOUT_HOME: join(scratch, "home"),
      LOOKOUT_HEARTBEAT_INTERVAL_MS: "1000",
      LOOKOUT_RECONNECT_MAX_DELAY_MS: "1000",
      LOOKOUT_LOG_LEVEL: "debug",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (bridge.pid) spawnedPids.add(bridge.pid);
  bridge.stderr?.on("data", (chunk: Buffer) => {
    bridgeLog += chunk.toString("utf8");
    // Remember OpenCode's pid so afterAll can clean up even if the bridge dies first.
    for (const match of bridgeLog.matchAll(/"msg":"opencode is up"[^\n]*"pid":(\d+)/g)) spawnedPids.add(Number(match[1]));
  });
  bridgeExit = new Promise((resolve) => bridge.once("exit", (code) => resolve(code)));
  await session.waitFor("bridge.ready", () => session.events("bridge.ready")[0], 60_000);
}, 90_000);

afterAll(async () => {
  if (process.env.LOOKOUT_E2E_DUMP)
    writeFileSync(
      process.env.LOOKOUT_E2E_DUMP,
      JSON.stringify(
        { stored: session.stored, frames: session.frames, welcomes: session.welcomes, log: bridgeLog, requests: model.requests },
        null,
        1,
      ),
    );
  for (const pid of spawnedPids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await session?.close();
  await model?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("bridge with the real opencode", () => {
  it("connects with its credentials, starts OpenCode and checks out the session branch", () => {
    expect(session.welcomes[0]).toEqual({ connection: 1, lastBseq: 0 });
    expect(session.stored[0]?.bseq).toBe(1);
    expect(session.events("bridge.ready")[0]?.opencodeVersion).toMatch(/^\d+\.\d+/);
    expect(git("symbolic-ref", "--short", "HEAD")).toBe(`lookout/${SESSION_ID}`);
  });

  it("runs queued prompts in order: text and tool calls, then a commit authored by the prompting user", async () => {
    session.send(prompt("p1", "write file notes/hello.txt containing Hello from Lookout"));
    session.send(prompt("p2", "echo the second prompt ran"));
    await session.waitFor("p2 finished", finished("p2"), 60_000);

    expect(finished("p1")()?.status).toBe("completed");
    expect(finished("p2")()?.status).toBe("completed");

    // p2 starts only after p1 has finished.
    const types = session.stored.map((s) => s.event);
    const p1End = types.findIndex((e) => e.type === "prompt.finished" && e.promptId === "p1");
    const p2Start = types.findIndex((e) => "promptId" in e && e.promptId === "p2");
    expect(p1End).toBeLessThan(p2Start);

    const p1 = session.promptEvents("p1");
    const texts = p1.filter((e) => e.type === "message.text");
    expect(texts.map((t) => t.text)).toContain("Writing `notes/hello.txt`.");
    expect(texts.at(-1)?.text).toBe("Wrote `notes/hello.txt`.");
    expect(texts.every((t) => t.role === "assistant")).toBe(true);

    const writeCall = p1.filter((e) => e.type === "tool.call");
    expect(writeCall.map((t) => t.state)).toEqual(["pending", "running", "completed"]);
    expect(new Set(writeCall.map((t) => t.callId)).size).toBe(1);
    expect(writeCall[2]).toMatchObject({ tool: "write", input: { filePath: "notes/hello.txt", content: "Hello from Lookout\n" } });
    expect(p1.some((e) => e.type === "step.finished" && e.tokens.input > 0)).toBe(true);

    // The closing events come in the documented order.
    const closing = p1.map((e) => e.type).filter((t) => t === "files.changed" || t === "git.commit" || t === "prompt.finished");
    expect(closing).toEqual(["files.changed", "git.commit", "prompt.finished"]);
    const files = p1.find((e) => e.type === "files.changed");
    expect(files?.type === "files.changed" && files.files).toEqual([
      { path: "notes/hello.txt", change: "added", additions: 1, deletions: 0 },
    ]);
    expect(files?.type === "files.changed" && files.diff).toContain("+Hello from Lookout");

    const commit = session.events("git.commit").find((e) => e.promptId === "p1");
    expect(commit).toMatchObject({ branch: `lookout/${SESSION_ID}`, author: aliceGit });
    expect(readFileSync(join(repo, "notes/hello.txt"), "utf8")).toBe("Hello from Lookout\n");
    const [author, committer, subject] = git("log", "-1", "--format=%an <%ae>%n%cn <%ce>%n%s", commit?.sha ?? "HEAD").split("\n");
    expect(author).toBe("Alice Example <alice@example.com>");
    expect(committer).toBe("Lookout <bot@lookout.local>");
    expect(subject).toBe("write file notes/hello.txt containing Hello from Lookout");
    expect(git("log", "-1", "--format=%B", commit?.sha ?? "HEAD")).toContain("Lookout-Prompt: p1");

    // p2 changed nothing, so it commits nothing.
    expect(session.promptEvents("p2").map((e) => e.type)).not.toContain("git.commit");
    expect(
      session
        .promptEvents("p2")
        .filter((e) => e.type === "message.text")
        .at(-1),
    ).toMatchObject({ text: "the second prompt ran" });
    expect(git("status", "--porcelain")).toBe("");
  }, 90_000);

  it("stops a running prompt and finishes it as stopped", async () => {
    session.send(prompt("p3", "slow stream"));
    await session.waitFor("p3 streaming", () => session.promptEvents("p3").some((e) => e.type === "message.text"), 30_000);
    const stopSentAt = Date.now();
    session.send({ type: "command.stop", promptId: "p3" });
    const done = await session.waitFor("p3 finished", finished("p3"), 30_000);
    expect(done.status).toBe("stopped");
    expect(Date.now() - stopSentAt).toBeLessThan(15_000);
    const text = session
      .promptEvents("p3")
      .filter((e) => e.type === "message.text")
      .at(-1);
    expect(text?.type === "message.text" && text.text.startsWith("word1 ")).toBe(true);
    expect(session.promptEvents("p3").some((e) => e.type === "agent.error")).toBe(false);
  }, 60_000);

  it("reports a failing model call as agent.error and a failed prompt", async () => {
    session.send(prompt("p4", "fail with model error"));
    const done = await session.waitFor("p4 finished", finished("p4"), 30_000);
    expect(done.status).toBe("failed");
    expect(session.promptEvents("p4").find((e) => e.type === "agent.error")).toMatchObject({
      code: "MODEL_API_ERROR",
      message: expect.stringContaining("asked to fail"),
    });
  }, 60_000);

  it("reconnects after a dropped connection and re-sends unacknowledged events without duplicates", async () => {
    session.send(prompt("p5", "medium stream"));
    await session.waitFor("p5 streaming", () => session.promptEvents("p5").filter((e) => e.type === "message.text").length >= 3, 30_000);
    // Frames from here on are lost in flight: received, never stored or acknowledged.
    session.blackhole = true;
    const lostFrom = session.frames.length;
    await session.waitFor("two lost frames", () => session.frames.length >= lostFrom + 2, 30_000);
    const lost = session.frames.slice(lostFrom).map((f) => f.bseq);
    session.blackhole = false;
    session.dropConnection();

    await session.waitFor("p5 finished", finished("p5"), 60_000);
    const reconnect = session.welcomes.at(-1);
    expect(session.connections).toBeGreaterThanOrEqual(2);
    expect(reconnect?.lastBseq).toBeLessThan(lost[0] ?? 0);

    // After the reconnect the bridge starts exactly after what the session stored.
    const resent = session.frames.filter((f) => f.connection === reconnect?.connection);
    expect(resent[0]?.bseq).toBe((reconnect?.lastBseq ?? 0) + 1);
    // Every lost frame arrived again and was stored exactly once.
    for (const bseq of lost) expect(session.stored.filter((s) => s.bseq === bseq)).toHaveLength(1);
    // The stored log has no gaps and no duplicates.
    const bseqs = session.stored.map((s) => s.bseq);
    expect(bseqs).toEqual(Array.from({ length: bseqs.length }, (_, i) => i + 1));

    const texts = session.promptEvents("p5").filter((e) => e.type === "message.text");
    expect(texts.at(-1)?.text).toBe(MEDIUM_WORDS);
    expect(session.heartbeats.length).toBeGreaterThan(0);
  }, 90_000);

  it("offers the agent a create_pull_request tool over MCP that opens the pull request as the sandbox", async () => {
    session.answers.set(`POST /api/sessions/${SESSION_ID}/pull-request`, {
      status: 201,
      body: { created: true, pullRequest: localPullRequest({ sessionId: SESSION_ID, title: "Bridge PR", draft: false, openedBy: alice }) },
    });
    session.send(prompt("p6", "open a pull request titled Bridge PR"));
    const done = await session.waitFor("p6 finished", finished("p6"), 60_000);
    expect(done.status).toBe("completed");
    const call = session
      .promptEvents("p6")
      .filter((e) => e.type === "tool.call")
      .at(-1);
    expect(call).toMatchObject({ tool: "lookout_create_pull_request", state: "completed", input: { title: "Bridge PR" } });
    expect(call?.type === "tool.call" && call.output).toContain('Opened pull request "Bridge PR"');
    const request = session.requests.find((r) => r.path === `/api/sessions/${SESSION_ID}/pull-request`);
    expect(request).toMatchObject({ method: "POST", authorization: `Bearer ${TOKEN}`, sandboxId: SANDBOX_ID });
    expect(JSON.parse(request?.body ?? "")).toEqual({ title: "Bridge PR" });
  }, 90_000);

  it("shuts down when the session closes with 4410 (sandbox superseded)", async () => {
    session.closeConnection(4410, "superseded");
    const code = await Promise.race([bridgeExit, new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 20_000))]);
    expect(code).toBe(0);
    expect(bridgeLog).toContain("session refused the bridge");
  }, 30_000);
});
