import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SessionEvent } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, git, SessionClient, type Stack, startStack } from "../src";

/**
 * The whole system for real: wrangler dev (Worker + Durable Objects + D1), the sandbox gateway with
 * bubblewrap sandboxes, the bundled bridge, the real `opencode` binary, the scripted model and git.
 */
let stack: Stack;
let cookie: string;
let repositoryId: string;
const clients: SessionClient[] = [];

beforeAll(async () => {
  stack = await startStack({ vars: { LIFECYCLE_OVERRIDES: JSON.stringify({ reconnectGraceMs: 3_000 }) } });
  cookie = await stack.login();
  const repo = createRepoFixture();
  const created = await apiClient(stack.url, cookie)<{ repository: { id: string } }>("POST", "/api/repositories", {
    kind: "local",
    path: repo,
    name: "fixture",
  });
  expect(created.status).toBe(201);
  repositoryId = created.json.repository.id;
});

afterAll(async () => {
  for (const client of clients) client.close();
  await stack?.stop();
});

async function newSession(prompt: string): Promise<{ sessionId: string; client: SessionClient }> {
  const created = await apiClient(stack.url, cookie)<{ session: { id: string } }>("POST", "/api/sessions", { repositoryId, prompt });
  expect(created.status).toBe(201);
  const client = new SessionClient(stack.url, cookie, created.json.session.id);
  clients.push(client);
  await client.connect(0);
  return { sessionId: created.json.session.id, client };
}

async function sendPrompt(client: SessionClient, requestId: string, text: string): Promise<string> {
  const sent = await apiClient(stack.url, cookie)<{ promptId: string }>("POST", `/api/sessions/${client.sessionId}/prompts`, {
    requestId,
    text,
  });
  expect(sent.status).toBe(202);
  return sent.json.promptId;
}

function finishedOf(client: SessionClient, promptId: string): SessionEvent | undefined {
  return client.events().find((e) => e.payload.type === "prompt.finished" && e.payload.promptId === promptId);
}

function promptIdOf(client: SessionClient, text: string): string {
  const queued = client.events().find((e) => e.payload.type === "prompt.queued" && e.payload.text === text);
  if (!queued || queued.payload.type !== "prompt.queued") throw new Error(`prompt ${text} was not queued`);
  return queued.payload.promptId;
}

function sandboxIdOf(client: SessionClient): string {
  const status = client.events().findLast((e) => e.payload.type === "sandbox.status" && e.payload.sandboxId);
  if (!status || status.payload.type !== "sandbox.status" || !status.payload.sandboxId) throw new Error("no sandbox yet");
  return status.payload.sandboxId;
}

function workspaceOf(sandboxId: string): string {
  return join(stack.stateDir, "gateway", "sandboxes", sandboxId, "workspace", "repo");
}

/** Sequence numbers a client received must be strictly increasing: no gap in order, no duplicate. */
function expectCleanStream(client: SessionClient): void {
  const seqs = client.events().map((e) => e.seq);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
}

describe("a session on a local repository", () => {
  it("streams the agent's text and tool calls, then commits the change as the prompting user", async () => {
    const { sessionId, client } = await newSession("demo");
    const promptId = promptIdOf(client, "demo");
    await client.waitForEvent(
      (e) => e.payload.type === "prompt.finished" && e.payload.promptId === promptId,
      150_000,
      "the demo prompt to finish",
    );
    expect(finishedOf(client, promptId)?.payload).toMatchObject({ status: "completed" });

    const timeline = client.timeline().filter((e) => "promptId" in e.payload && e.payload.promptId === promptId);
    const tools = timeline.flatMap((e) => (e.payload.type === "tool.call" ? [e.payload] : []));
    expect(tools.map((tool) => tool.tool)).toEqual(["read", "write", "edit", "bash"]);
    expect(tools.every((tool) => tool.state === "completed")).toBe(true);
    expect(tools.find((tool) => tool.tool === "bash")?.output).toContain("LOOKOUT_DEMO.md");
    const texts = timeline.flatMap((e) => (e.payload.type === "message.text" && e.payload.role === "assistant" ? [e.payload.text] : []));
    expect(texts.join("\n")).toContain("Offline demo model");
    // Text and tool calls arrive in the order the agent produced them.
    const firstText = client.events().findIndex((e) => e.payload.type === "message.text");
    const firstTool = client.events().findIndex((e) => e.payload.type === "tool.call");
    expect(firstText).toBeGreaterThanOrEqual(0);
    expect(firstText).toBeLessThan(firstTool);

    const commit = timeline.find((e) => e.payload.type === "git.commit");
    expect(commit?.payload).toMatchObject({ author: { name: "Admin" } });
    const workspace = workspaceOf(sandboxIdOf(client));
    const [author, committer, branch] = git(workspace, "log", "-1", "--format=%an <%ae>|%cn|%D").split("|");
    expect(author).toBe("Admin <admin@users.lookout.local>");
    expect(committer).toBe("Lookout");
    expect(branch).toContain(`lookout/${sessionId}`);
    expect(readFileSync(join(workspace, "LOOKOUT_DEMO.md"), "utf8")).toContain("end to end");
    const files = timeline.find((e) => e.payload.type === "files.changed");
    expect(files?.payload.type === "files.changed" && files.payload.files.map((f) => f.path)).toEqual(["LOOKOUT_DEMO.md"]);
    expectCleanStream(client);
  });

  it("queues a prompt sent during a run and runs it afterwards", async () => {
    const { client } = await newSession("run the command sleep 2 && echo first");
    await client.waitForEvent((e) => e.payload.type === "prompt.started", 120_000, "the first prompt to start");
    const second = await sendPrompt(client, "second", "write file second.txt containing second");
    const first = promptIdOf(client, "run the command sleep 2 && echo first");
    await client.waitForEvent((e) => e.payload.type === "prompt.finished" && e.payload.promptId === second, 120_000, "the second prompt");
    const seqOf = (type: string, promptId: string) =>
      client.events().find((e) => e.payload.type === type && "promptId" in e.payload && e.payload.promptId === promptId)!.seq;
    expect(seqOf("prompt.started", second)).toBeGreaterThan(seqOf("prompt.finished", first));
    expect(finishedOf(client, second)?.payload).toMatchObject({ status: "completed" });
    expect(readFileSync(join(workspaceOf(sandboxIdOf(client)), "second.txt"), "utf8")).toBe("second\n");
  });

  it("stops a running prompt cleanly and keeps the session usable", async () => {
    const { client } = await newSession("slow stream please");
    const promptId = promptIdOf(client, "slow stream please");
    await client.waitForEvent((e) => e.payload.type === "message.text" && e.payload.text.includes("word3"), 120_000, "streaming to begin");
    expect((await apiClient(stack.url, cookie)("POST", `/api/sessions/${client.sessionId}/stop`)).status).toBe(200);
    await client.waitForEvent((e) => e.payload.type === "prompt.finished" && e.payload.promptId === promptId, 60_000, "the stop");
    expect(finishedOf(client, promptId)?.payload).toMatchObject({ status: "stopped" });
    await sendPrompt(client, "after-stop", "echo still here");
    const next = await client.waitForEvent(
      (e) => e.payload.type === "prompt.finished" && e.payload.promptId !== promptId,
      120_000,
      "a prompt after the stop",
    );
    expect(next.payload).toMatchObject({ status: "completed" });
    expectCleanStream(client);
  });

  it("recovers when the sandbox dies mid-stream: the next prompt runs in a fresh sandbox restored from the snapshot", async () => {
    const { sessionId, client } = await newSession("write file kept.txt containing survives");
    const firstPrompt = promptIdOf(client, "write file kept.txt containing survives");
    await client.waitForEvent(
      (e) => e.payload.type === "prompt.finished" && e.payload.promptId === firstPrompt,
      120_000,
      "the first prompt",
    );
    const firstSandbox = sandboxIdOf(client);

    const slowPrompt = await sendPrompt(client, "slow", "slow stream");
    await client.waitForEvent((e) => e.payload.type === "message.text" && e.payload.text.includes("word3"), 60_000, "streaming");
    // Kill the sandbox's whole process tree, bridge included.
    execFileSync("pkill", ["-KILL", "-f", firstSandbox]);
    await client.waitForEvent(
      (e) => e.payload.type === "prompt.finished" && e.payload.promptId === slowPrompt,
      60_000,
      "the interrupted prompt to end",
    );
    expect(finishedOf(client, slowPrompt)?.payload).toMatchObject({ status: "failed" });
    await client.waitForEvent(
      (e) => e.payload.type === "sandbox.status" && e.payload.status === "stale",
      10_000,
      "the sandbox to be retired",
    );

    await sendPrompt(client, "after", "run the command cat kept.txt");
    const after = await client.waitForEvent(
      (e) => e.payload.type === "prompt.finished" && e.payload.promptId !== slowPrompt && e.payload.promptId !== firstPrompt,
      150_000,
      "the prompt after recovery",
    );
    expect(after.payload).toMatchObject({ status: "completed" });
    const secondSandbox = sandboxIdOf(client);
    expect(secondSandbox).not.toBe(firstSandbox);
    const afterPrompt = after.payload.type === "prompt.finished" ? after.payload.promptId : "";
    const bash = client
      .timeline()
      .find((e) => e.payload.type === "tool.call" && e.payload.tool === "bash" && e.payload.promptId === afterPrompt);
    expect(bash?.payload.type === "tool.call" && bash.payload.output).toContain("survives");

    expectCleanStream(client);
    // The stored log and what the client rendered agree, row for row.
    const stored = await apiClient(stack.url, cookie)<{ events: SessionEvent[] }>(
      "GET",
      `/api/sessions/${sessionId}/events?after=0&limit=1000`,
    );
    expect(client.timeline()).toEqual(stored.json.events);
  });

  it("keeps the sandbox inside its work directory", async () => {
    const { client } = await newSession("run the command ls /root /work 2>&1; echo exit=$?");
    await client.waitForEvent((e) => e.payload.type === "prompt.finished", 120_000, "the prompt");
    const bash = client.timeline().find((e) => e.payload.type === "tool.call" && e.payload.tool === "bash");
    const output = bash?.payload.type === "tool.call" ? (bash.payload.output ?? "") : "";
    expect(output).toMatch(/No such file or directory/);
    expect(output).not.toMatch(/\.bashrc|node_modules/);
    expect(existsSync("/root")).toBe(true);
  });
});
