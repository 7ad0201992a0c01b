import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RepositoryImage, RepositoryImagesResponse, SessionEvent } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, git, SessionClient, type Stack, startStack } from "../src";

/**
 * Repository images and read-before-sync on the real stack (ADR 0015): an admin builds a local
 * repository's image (its setup script runs once, in a build sandbox); a commit lands on the base
 * afterwards; a new session's sandbox starts from the image — the setup's output is there and the
 * script does not run again — catches up with the base as its own timeline step, and the agent's
 * write lands on the synced work tree after that step.
 */

/** Counts its runs in a directory git ignores, so only an image can carry the count into a sandbox. */
const SETUP = "mkdir -p deps\necho ran >> deps/setup-runs\necho 'dependencies installed'\n";

let stack: Stack;
let cookie: string;
let repo: string;

beforeAll(async () => {
  stack = await startStack();
  cookie = await stack.login();
  repo = createRepoFixture({ ".gitignore": "deps/\n", ".lookout/setup.sh": SETUP });
});

afterAll(async () => {
  await stack?.stop();
});

/** The gateway's record of a sandbox, as it persists it (`apps/sandbox-gateway/src/registry.ts`). */
function restoredFrom(sandboxId: string): string | undefined {
  const registry = JSON.parse(readFileSync(join(stack.stateDir, "gateway", "registry.json"), "utf8")) as {
    sandboxes: { sandboxId: string; restoredFrom?: string }[];
  };
  return registry.sandboxes.find((record) => record.sandboxId === sandboxId)?.restoredFrom;
}

async function imageReady(repositoryId: string): Promise<RepositoryImage> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const read = await apiClient(stack.url, cookie)<RepositoryImagesResponse>("GET", `/api/repositories/${repositoryId}/images`);
    const newest = read.json.images[0];
    if (newest && newest.status !== "building") return newest;
    if (Date.now() > deadline) throw new Error(`No image was built within 120 s:\n${stack.logs().slice(-4_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function syncPhase(event: SessionEvent, phase: string): boolean {
  return event.payload.type === "sandbox.sync" && event.payload.phase === phase;
}

async function finished(client: SessionClient, text: string): Promise<string> {
  const queued = await client.waitForEvent((e) => e.payload.type === "prompt.queued" && e.payload.text === text, 60_000, "the prompt");
  const promptId = queued.payload.type === "prompt.queued" ? queued.payload.promptId : "";
  const done = await client.waitForEvent(
    (e) => e.payload.type === "prompt.finished" && e.payload.promptId === promptId,
    170_000,
    `the prompt ${JSON.stringify(text)} to finish`,
  );
  expect(done.payload).toMatchObject({ status: "completed" });
  return promptId;
}

describe("a session on a repository with an image", () => {
  it("starts from the image, syncs the newer base as its own step, and writes after it", async () => {
    const api = apiClient(stack.url, cookie);
    const created = await api<{ repository: { id: string } }>("POST", "/api/repositories", {
      kind: "local",
      path: repo,
      name: "image-repo",
    });
    expect(created.status).toBe(201);
    const repositoryId = created.json.repository.id;
    // This test is about images: no warm sandbox may take the session.
    expect((await api("PUT", `/api/sandbox-pool/repositories/${repositoryId}`, { size: 0 })).status).toBe(200);

    const build = await api<RepositoryImage>("POST", `/api/repositories/${repositoryId}/images`);
    expect(build.status).toBe(202);
    const image = await imageReady(repositoryId);
    expect(image).toMatchObject({ status: "ready", trigger: "admin", baseSha: git(repo, "rev-parse", "HEAD") });
    expect(image.output).toContain("dependencies installed");

    // The base moves on after the image was built.
    git(repo, "-c", "user.name=Base", "-c", "user.email=base@example.com", "commit", "--quiet", "--allow-empty", "-m", "after the image");
    const baseHead = git(repo, "rev-parse", "HEAD");

    const write = "write file agent.txt containing written after the sync";
    const session = await api<{ session: { id: string } }>("POST", "/api/sessions", { repositoryId, prompt: write });
    expect(session.status).toBe(201);
    const client = new SessionClient(stack.url, cookie, session.json.session.id);
    try {
      await client.connect(0);
      const writePrompt = await finished(client, write);

      const connecting = await client.waitForEvent(
        (e) => e.payload.type === "sandbox.status" && e.payload.status === "connecting",
        1_000,
        "the sandbox to connect",
      );
      expect(connecting.payload).toMatchObject({ detail: "Started from the repository's image." });
      const sandboxId = connecting.payload.type === "sandbox.status" ? (connecting.payload.sandboxId ?? "") : "";
      expect(restoredFrom(sandboxId)).toBe(image.snapshotId);

      // The sync is one step of its own: started, then finished with the one commit it brought in.
      const synced = await client.waitForEvent((e) => syncPhase(e, "finished"), 1_000, "the sync to finish");
      expect(synced.payload).toMatchObject({ baseBranch: "main", fromSha: image.baseSha, toSha: baseHead, behind: 1 });
      expect(client.timeline().filter((e) => e.payload.type === "sandbox.sync")).toHaveLength(1);

      // The write completed after the sync finished, and the prompt's changes are only its own.
      const writeCall = client
        .timeline()
        .find((e) => e.payload.type === "tool.call" && e.payload.tool === "write" && e.payload.promptId === writePrompt);
      expect(writeCall?.payload).toMatchObject({ state: "completed" });
      expect(writeCall!.seq).toBeGreaterThan(synced.seq);
      const changed = client.timeline().find((e) => e.payload.type === "files.changed" && e.payload.promptId === writePrompt);
      expect(changed?.payload.type === "files.changed" && changed.payload.files.map((file) => file.path)).toEqual(["agent.txt"]);
      // The session branch holds the agent's commit on top of the newest base.
      const branch = `lookout/${client.sessionId}`;
      expect(git(repo, "rev-parse", `${branch}~1`)).toBe(baseHead);

      // What the setup script made came with the image; the script did not run again in the session.
      const read = "run command cat deps/setup-runs";
      expect((await api("POST", `/api/sessions/${client.sessionId}/prompts`, { requestId: "read-runs", text: read })).status).toBe(202);
      const readPrompt = await finished(client, read);
      const bash = client
        .timeline()
        .find((e) => e.payload.type === "tool.call" && e.payload.tool === "bash" && e.payload.promptId === readPrompt);
      expect(bash?.payload.type === "tool.call" ? bash.payload.output?.trim() : undefined).toBe("ran");
    } finally {
      client.close();
    }
  });
});
