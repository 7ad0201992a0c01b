import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { GIT_CREDENTIAL_USERNAME, mintGitCredential, type PullRequest, type SessionEvent } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, git, SessionClient, type Stack, startStack } from "../src";

/**
 * Source control end to end: a session on a local repository pushes its branch into the repository
 * through the gateway's git smart-HTTP endpoint (credentials from the bridge's helper), the agent
 * opens a pull request with its MCP tool, people review and merge it over REST, and a change to
 * `.github/workflows/` waits for a participant's approval before it leaves the sandbox.
 */
const run = promisify(execFile);

let stack: Stack;
let cookie: string;
let fixture: string;
let repositoryId: string;
const clients: SessionClient[] = [];

type Api = ReturnType<typeof apiClient>;
let api: Api;

beforeAll(async () => {
  stack = await startStack();
  cookie = await stack.login();
  api = apiClient(stack.url, cookie);
  fixture = createRepoFixture();
  const created = await api<{ repository: { id: string } }>("POST", "/api/repositories", { kind: "local", path: fixture, name: "fixture" });
  expect(created.status).toBe(201);
  repositoryId = created.json.repository.id;
});

afterAll(async () => {
  for (const client of clients) client.close();
  await stack?.stop();
});

async function newSession(prompt: string): Promise<SessionClient> {
  const created = await api<{ session: { id: string } }>("POST", "/api/sessions", { repositoryId, prompt });
  expect(created.status).toBe(201);
  const client = new SessionClient(stack.url, cookie, created.json.session.id);
  clients.push(client);
  await client.connect(0);
  return client;
}

async function sendPrompt(client: SessionClient, requestId: string, text: string): Promise<string> {
  const sent = await api<{ promptId: string }>("POST", `/api/sessions/${client.sessionId}/prompts`, { requestId, text });
  expect(sent.status).toBe(202);
  return sent.json.promptId;
}

function promptIdOf(client: SessionClient, text: string): string {
  const queued = client.events().find((e) => e.payload.type === "prompt.queued" && e.payload.text === text);
  if (!queued || queued.payload.type !== "prompt.queued") throw new Error(`prompt ${text} was not queued`);
  return queued.payload.promptId;
}

type Payload<T extends SessionEvent["payload"]["type"]> = Extract<SessionEvent["payload"], { type: T }>;

/** The first event of `type` that satisfies `predicate`, waited for with a deadline. */
async function waitForPayload<T extends SessionEvent["payload"]["type"]>(
  client: SessionClient,
  type: T,
  predicate: (payload: Payload<T>) => boolean,
  what: string,
  timeoutMs = 150_000,
): Promise<Payload<T>> {
  const isMatch = (payload: SessionEvent["payload"]): payload is Payload<T> => payload.type === type && predicate(payload as Payload<T>);
  const event = await client.waitForEvent((e) => isMatch(e.payload), timeoutMs, what);
  if (!isMatch(event.payload)) throw new Error(`unexpected ${event.payload.type}`);
  return event.payload;
}

/** The fixture's ref, or null when it does not exist. */
function refOf(ref: string): string | null {
  try {
    return git(fixture, "rev-parse", "--verify", "--quiet", ref);
  } catch {
    return null;
  }
}

describe("source control on a local repository", () => {
  let client: SessionClient;
  let branch: string;
  let pushedSha: string;

  it("pushes the session branch into the repository over git HTTP, authored by the prompting user", async () => {
    client = await newSession("write file notes/review.txt containing ready for review");
    branch = `lookout/${client.sessionId}`;
    const promptId = promptIdOf(client, "write file notes/review.txt containing ready for review");
    const push = await waitForPayload(client, "git.push", (p) => p.promptId === promptId, "the branch to be pushed");
    expect(push).toMatchObject({ status: "pushed", branch });
    // Pushed before the prompt is reported finished.
    const finished = await waitForPayload(client, "prompt.finished", (p) => p.promptId === promptId, "the prompt to finish");
    expect(finished.status).toBe("completed");
    pushedSha = push.headSha;

    expect(refOf(`refs/heads/${branch}`)).toBe(pushedSha);
    expect(git(fixture, "log", "-1", "--format=%an <%ae>|%cn <%ce>", branch)).toBe(
      "Admin <admin@users.lookout.local>|Lookout <bot@lookout.local>",
    );
    expect(git(fixture, "show", `${branch}:notes/review.txt`)).toBe("ready for review");
    // The base branch and the work tree of the repository are untouched until a merge.
    expect(git(fixture, "log", "-1", "--format=%s", "main")).toBe("Initial commit");
    expect(git(fixture, "status", "--porcelain")).toBe("");
  });

  it("opens a pull request through the agent's tool, for the person who asked", async () => {
    const promptId = await sendPrompt(client, "open-pr", "open a pull request titled Add review notes");
    const finished = await waitForPayload(client, "prompt.finished", (p) => p.promptId === promptId, "the pull request prompt");
    expect(finished.status).toBe("completed");
    const tool = client
      .timeline()
      .map((e) => e.payload)
      .find((p): p is Payload<"tool.call"> => p.type === "tool.call" && p.promptId === promptId);
    expect(tool).toMatchObject({ tool: "lookout_create_pull_request", state: "completed", input: { title: "Add review notes" } });
    expect(tool?.output).toContain('Opened pull request "Add review notes"');
    await waitForPayload(client, "artifact", (p) => p.kind === "pull_request", "the pull request artifact", 10_000);

    const shown = await api<{ pullRequest: PullRequest }>("GET", `/api/sessions/${client.sessionId}/pull-request`);
    expect(shown.status).toBe(200);
    const pr = shown.json.pullRequest;
    expect(pr).toMatchObject({
      provider: "local",
      title: "Add review notes",
      baseBranch: "main",
      headBranch: branch,
      headSha: pushedSha,
      state: "open",
      openedBy: { name: "Admin" },
      openedAs: "local",
    });
    expect(pr.review?.commits).toEqual([
      expect.objectContaining({
        sha: pushedSha,
        subject: "write file notes/review.txt containing ready for review",
        author: { name: "Admin", email: "admin@users.lookout.local" },
        committer: { name: "Lookout", email: "bot@lookout.local" },
      }),
    ]);
    expect(pr.review?.files).toEqual([expect.objectContaining({ path: "notes/review.txt", change: "added" })]);
    expect(pr.review?.diff).toContain("+ready for review");

    // A person asking again updates the same pull request.
    const again = await api<{ pullRequest: PullRequest; created: boolean }>("POST", `/api/sessions/${client.sessionId}/pull-request`, {
      title: "Add review notes (v2)",
    });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ created: false, pullRequest: { id: pr.id, title: "Add review notes (v2)" } });
  });

  it("merges the pull request onto main in the repository", async () => {
    const merged = await api<{ pullRequest: PullRequest }>("POST", `/api/sessions/${client.sessionId}/pull-request/merge`, {});
    expect(merged.status).toBe(200);
    expect(merged.json.pullRequest).toMatchObject({ state: "merged" });
    const mergeSha = merged.json.pullRequest.mergeSha;
    expect(refOf("refs/heads/main")).toBe(mergeSha);
    expect(git(fixture, "log", "-1", "--format=%P|%cn", "main")).toBe(`${git(fixture, "rev-parse", "main~1")} ${pushedSha}|Lookout`);
    expect(git(fixture, "merge-base", "--is-ancestor", pushedSha, "main")).toBe("");
    // main is checked out in the fixture: its work tree follows the merge.
    expect(readFileSync(join(fixture, "notes", "review.txt"), "utf8")).toBe("ready for review\n");
    expect(git(fixture, "status", "--porcelain")).toBe("");
  });
});

describe("a change to .github/workflows/", () => {
  it("waits for a participant's approval, then is pushed", async () => {
    const text = "write file .github/workflows/x.yml containing name: x";
    const client = await newSession(text);
    const branch = `lookout/${client.sessionId}`;
    const promptId = promptIdOf(client, text);
    const approval = await waitForPayload(client, "push.approval", (p) => p.state === "pending", "the approval request");
    expect(approval).toMatchObject({ branch, files: [".github/workflows/x.yml"] });
    const held = await waitForPayload(client, "git.push", (p) => p.promptId === promptId, "the held-back push");
    expect(held).toMatchObject({ status: "awaiting_approval", headSha: approval.headSha });
    await waitForPayload(client, "prompt.finished", (p) => p.promptId === promptId, "the prompt to finish");
    expect(refOf(`refs/heads/${branch}`)).toBeNull();

    const decided = await api("POST", `/api/sessions/${client.sessionId}/push-approvals/${approval.approvalId}`, { decision: "approve" });
    expect(decided.status).toBe(200);
    const pushed = await waitForPayload(client, "git.push", (p) => p.status !== "awaiting_approval", "the approved push", 60_000);
    expect(pushed).toMatchObject({ status: "pushed", headSha: approval.headSha });
    expect(refOf(`refs/heads/${branch}`)).toBe(approval.headSha);
    expect(git(fixture, "show", `${branch}:.github/workflows/x.yml`)).toBe("name: x");
    const row = client.timeline().find((e) => e.payload.type === "push.approval" && e.payload.approvalId === approval.approvalId);
    expect(row?.payload).toMatchObject({ state: "approved", decidedBy: { name: "Admin" } });
  });
});

describe("git credentials", () => {
  /** `git ls-remote` against a session's repository URL with a password (or none); resolves with git's exit code. */
  async function lsRemote(sessionId: string, password?: string): Promise<number> {
    const auth = password
      ? ["-c", `http.extraHeader=Authorization: Basic ${Buffer.from(`${GIT_CREDENTIAL_USERNAME}:${password}`).toString("base64")}`]
      : [];
    try {
      await run("git", [...auth, "ls-remote", `${stack.gatewayUrl}/git/${sessionId}.git`], {
        env: { PATH: process.env.PATH, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
      });
      return 0;
    } catch (error) {
      return typeof error === "object" && error !== null && "code" in error && typeof error.code === "number" ? error.code : -1;
    }
  }

  it("open only their own session's repository, and only with a sandbox token", async () => {
    const exp = Date.now() + 60_000;
    const mine = await mintGitCredential(stack.gitCredentialSecret, {
      sid: "ses_mine",
      repo: fixture,
      ref: "refs/heads/lookout/ses_mine",
      exp,
    });
    expect(await lsRemote("ses_mine", mine)).toBe(0);
    expect(await lsRemote("ses_other", mine)).not.toBe(0);
    expect(await lsRemote("ses_mine")).not.toBe(0);

    const session = await api<{ session: { id: string } }>("POST", "/api/sessions", { repositoryId });
    const refused = await fetch(`${stack.url}/api/sessions/${session.json.session.id}/git-credentials`, {
      method: "POST",
      headers: { authorization: "Bearer not-a-sandbox-token", "x-lookout-sandbox-id": "sbx_guess", "content-type": "application/json" },
      body: JSON.stringify({ protocol: "http", host: new URL(stack.gatewayUrl).host, path: `git/${session.json.session.id}.git` }),
    });
    expect(refused.status).toBe(401);
  });
});
