import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { SessionEvent } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, git, SessionClient, type Stack, startStack } from "../src";

/**
 * A session's sandbox stopped by inactivity and brought back by the next prompt, on the real stack:
 * the agent writes a file git ignores (so it is never committed or pushed: only the snapshot can
 * carry it), the idle sandbox is snapshotted and stopped, and the next prompt reads the file back
 * in a new sandbox created from exactly the snapshot the session recorded when it stopped.
 */

/** Short enough that the test waits seconds for the stop, long enough that a prompt's follow-up work settles first. */
const INACTIVITY_TIMEOUT_MS = 5_000;
const SCRATCH_FILE = "scratch/notes.txt";
const CONTENT = `unsaved-work-${randomBytes(8).toString("hex")}`;

let stack: Stack;
let cookie: string;
let repo: string;

beforeAll(async () => {
  stack = await startStack({ vars: { LIFECYCLE_OVERRIDES: JSON.stringify({ inactivityTimeoutMs: INACTIVITY_TIMEOUT_MS }) } });
  cookie = await stack.login();
  repo = createRepoFixture({ ".gitignore": "scratch/\n" });
});

afterAll(async () => {
  await stack?.stop();
});

function gatewayDir(...parts: string[]): string {
  return join(stack.stateDir, "gateway", ...parts);
}

/** The gateway's record of a sandbox, as it persists it (`apps/sandbox-gateway/src/registry.ts`). */
function gatewayRecord(sandboxId: string): { sandboxId: string; restoredFrom?: string } | undefined {
  const registry = JSON.parse(readFileSync(gatewayDir("registry.json"), "utf8")) as {
    sandboxes: { sandboxId: string; restoredFrom?: string }[];
  };
  return registry.sandboxes.find((record) => record.sandboxId === sandboxId);
}

/**
 * The sandbox row the session's Durable Object keeps (`sandbox-store.ts`), read from the storage
 * wrangler persists for it: the snapshot id there is the one the session restores from next.
 */
function sessionSandboxRow(sandboxId: string): { status: string; snapshotId: string | null } {
  const objects = join(stack.stateDir, "wrangler-state", "v3", "do");
  const namespace = readdirSync(objects).find((name) => name.endsWith("-SessionAgent"));
  if (!namespace) throw new Error(`No SessionAgent storage under ${objects}`);
  for (const file of readdirSync(join(objects, namespace)).filter((name) => name.endsWith(".sqlite"))) {
    const db = new DatabaseSync(join(objects, namespace, file), { readOnly: true });
    try {
      const row = db.prepare("SELECT status, snapshot_id FROM sandbox WHERE sandbox_id = ?").get(sandboxId);
      if (row) return { status: String(row.status), snapshotId: row.snapshot_id === null ? null : String(row.snapshot_id) };
    } finally {
      db.close();
    }
  }
  throw new Error(`No session storage holds sandbox ${sandboxId}`);
}

/** Host processes whose command line names `sandboxId` (bubblewrap's binds carry its directory). */
function processesOf(sandboxId: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(`/sandboxes/${sandboxId}/`)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}

function statusEvent(event: SessionEvent, status: string, sandboxId?: string): boolean {
  return (
    event.payload.type === "sandbox.status" &&
    event.payload.status === status &&
    (sandboxId === undefined || event.payload.sandboxId === sandboxId)
  );
}

function sandboxIdOf(event: SessionEvent): string {
  if (event.payload.type !== "sandbox.status" || !event.payload.sandboxId) throw new Error("not a sandbox event");
  return event.payload.sandboxId;
}

async function promptFinished(client: SessionClient, text: string): Promise<string> {
  const queued = await client.waitForEvent((e) => e.payload.type === "prompt.queued" && e.payload.text === text, 60_000, "the prompt");
  const promptId = queued.payload.type === "prompt.queued" ? queued.payload.promptId : "";
  const finished = await client.waitForEvent(
    (e) => e.payload.type === "prompt.finished" && e.payload.promptId === promptId,
    170_000,
    `the prompt ${JSON.stringify(text)} to finish`,
  );
  expect(finished.payload).toMatchObject({ status: "completed" });
  return promptId;
}

describe("a sandbox stopped by inactivity", () => {
  it("comes back from the snapshot taken when it stopped, with the uncommitted file the agent wrote", async () => {
    const created = await apiClient(stack.url, cookie)<{ repository: { id: string } }>("POST", "/api/repositories", {
      kind: "local",
      path: repo,
      name: "snapshot-restore",
    });
    expect(created.status).toBe(201);
    const write = `write file ${SCRATCH_FILE} containing ${CONTENT}`;
    const session = await apiClient(stack.url, cookie)<{ session: { id: string } }>("POST", "/api/sessions", {
      repositoryId: created.json.repository.id,
      prompt: write,
    });
    expect(session.status).toBe(201);
    const client = new SessionClient(stack.url, cookie, session.json.session.id);
    try {
      await client.connect(0);

      // The agent writes the file; git ignores it, so the prompt commits and pushes nothing of it.
      const writePrompt = await promptFinished(client, write);
      const firstSandbox = sandboxIdOf(await client.waitForEvent((e) => statusEvent(e, "spawning"), 1_000, "the first sandbox"));
      const writeEvents = client.timeline().filter((e) => "promptId" in e.payload && e.payload.promptId === writePrompt);
      expect(writeEvents.find((e) => e.payload.type === "tool.call" && e.payload.tool === "write")?.payload).toMatchObject({
        state: "completed",
      });
      expect(writeEvents.some((e) => e.payload.type === "git.commit" || e.payload.type === "git.push")).toBe(false);
      expect(git(repo, "log", "--all", "--name-only", "--format=")).not.toContain(SCRATCH_FILE);

      // Idle past the inactivity timeout: the session snapshots the sandbox and stops it.
      const stopped = await client.waitForEvent(
        (e) => statusEvent(e, "stopped", firstSandbox),
        INACTIVITY_TIMEOUT_MS + 60_000,
        "the idle sandbox to be stopped",
      );
      expect(stopped.payload).toMatchObject({ detail: "Stopped after inactivity; the workspace was saved." });
      const recorded = sessionSandboxRow(firstSandbox);
      expect(recorded.status).toBe("stopped");
      const snapshotId = recorded.snapshotId;
      if (!snapshotId) throw new Error("The session recorded no snapshot when it stopped the sandbox");
      // The sandbox is gone: its directory, its gateway record and every process of it.
      expect(existsSync(gatewayDir("sandboxes", firstSandbox))).toBe(false);
      expect(gatewayRecord(firstSandbox)).toBeUndefined();
      expect(processesOf(firstSandbox)).toEqual([]);
      // What the session recorded is the snapshot taken as the sandbox stopped (the newest archive
      // its workspace left; one is also taken after each prompt), and it holds the file.
      const archives = readdirSync(gatewayDir("snapshots"))
        .filter((name) => name.endsWith(".tar.gz"))
        .sort((a, b) => statSync(gatewayDir("snapshots", b)).mtimeMs - statSync(gatewayDir("snapshots", a)).mtimeMs);
      expect(archives[0]).toBe(`${snapshotId}.tar.gz`);
      const archive = gatewayDir("snapshots", `${snapshotId}.tar.gz`);
      expect(execFileSync("tar", ["-xzOf", archive, `workspace/repo/${SCRATCH_FILE}`], { encoding: "utf8" })).toBe(`${CONTENT}\n`);

      // The next prompt brings a new sandbox up from that snapshot and reads the file back.
      const read = `run command cat ${SCRATCH_FILE}`;
      const sent = await apiClient(stack.url, cookie)("POST", `/api/sessions/${client.sessionId}/prompts`, {
        requestId: "read-back",
        text: read,
      });
      expect(sent.status).toBe(202);
      const restoring = await client.waitForEvent(
        (e) => statusEvent(e, "spawning") && e.seq > stopped.seq,
        60_000,
        "the sandbox that replaces the stopped one",
      );
      expect(restoring.payload).toMatchObject({ detail: "Restoring from the last snapshot." });
      const secondSandbox = sandboxIdOf(restoring);
      expect(secondSandbox).not.toBe(firstSandbox);
      // While its prompt runs the sandbox cannot be stopped, so the gateway still holds its record.
      await client.waitForEvent(
        (e) => e.payload.type === "prompt.started" && e.seq > restoring.seq,
        170_000,
        "the prompt to start in the restored sandbox",
      );
      expect(gatewayRecord(secondSandbox)?.restoredFrom).toBe(snapshotId);

      const readPrompt = await promptFinished(client, read);
      const bash = client
        .timeline()
        .find((e) => e.payload.type === "tool.call" && e.payload.tool === "bash" && e.payload.promptId === readPrompt);
      expect(bash?.payload.type === "tool.call" ? bash.payload.output : undefined).toContain(CONTENT);
    } finally {
      client.close();
    }
  });
});
