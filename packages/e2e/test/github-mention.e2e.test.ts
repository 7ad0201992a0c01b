import { createHmac, randomUUID } from "node:crypto";
import type { SessionSummary } from "@lookout/protocol";
import type { ScriptInput } from "@lookout/scripted-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type Stack, startStack } from "../src";
import { type FakeGitHub, startFakeGitHub } from "../src/fake-github";

/**
 * A GitHub pull request @mention on the real stack (wrangler dev with its D1 and Durable Objects, the
 * gateway, a bubblewrap sandbox running the bridge and OpenCode with the offline scripted model)
 * against a fake GitHub that plays a GitHub Enterprise Server: its REST API checks the App's JWT and
 * installation tokens, and its git smart HTTP (real `git http-backend`) takes
 * `x-access-token:<installation token>` and lets only a token with `contents: write` push. The
 * fake listens on 127.0.0.2, a private address the gateway's relay refuses unless the operator
 * names it (`LOOKOUT_EGRESS_PRIVATE_DESTINATIONS`), and the Worker is pointed at it with
 * `GITHUB_API_URL` and `GITHUB_WEB_URL`.
 *
 * Each mention runs to completion: by default the agent's commit goes to a new branch with a pull
 * request based on the mentioned pull request's branch; `direct-push` puts it on that branch; a
 * fork's session pushes nothing and answers with a suggested patch, without repository secrets.
 */
const WEBHOOK_SECRET = "e2e-github-webhook-secret";
const REPOSITORY = "acme/widgets";
const REPOSITORY_SECRET = "e2e-repository-secret-value";
const ANSWER_DEADLINE_MS = 10_000;
const RUN_DEADLINE_MS = 240_000;
const POLL_MS = 250;

/** What the agent does for each request: the offline model's scripts, matched inside the mention prompt. */
const AGENT_SCRIPTS: ScriptInput[] = [
  {
    name: "rename-the-widget",
    match: "rename the widget",
    steps: [
      { text: "Writing the new name.", toolCalls: [{ name: "write", arguments: { filePath: "WIDGET_NAME.md", content: "gadget\n" } }] },
      {
        text: "Committing it.",
        toolCalls: [{ name: "bash", arguments: { command: "git add -A && git commit -q -m 'Rename the widget to gadget'" } }],
      },
      {
        text: "Opening the pull request.",
        toolCalls: [{ name: "lookout_create_pull_request", arguments: { title: "Rename the widget" } }],
      },
    ],
    finalText: "Renamed the widget to gadget in `WIDGET_NAME.md`.",
  },
  {
    name: "update-the-changelog",
    match: "update the changelog",
    steps: [
      {
        text: "Adding the entry.",
        toolCalls: [{ name: "write", arguments: { filePath: "CHANGELOG.md", content: "- Docs for the widget\n" } }],
      },
    ],
    finalText: "Added the changelog entry.",
  },
  {
    name: "fix-the-typo",
    match: "fix the typo",
    steps: [
      {
        text: "Checking what the sandbox holds.",
        toolCalls: [
          {
            name: "bash",
            arguments: { command: "printenv E2E_REPO_SECRET || echo no-repository-secret; echo notes: $(cat NOTES.md 2>&1)" },
          },
        ],
      },
      { text: "Fixing it.", toolCalls: [{ name: "write", arguments: { filePath: "TYPO_FIX.md", content: "widget, not wigdet\n" } }] },
    ],
    finalText: "Fixed the typo.",
  },
];

let stack: Stack;
let github: FakeGitHub;
let cookie: string;
let repositoryId: string;

beforeAll(async () => {
  github = await startFakeGitHub({ repository: REPOSITORY, host: "127.0.0.2" });
  github.permissions.ada = "write";
  stack = await startStack({
    vars: {
      GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      GITHUB_APP_ID: github.appId,
      GITHUB_APP_PRIVATE_KEY: github.privateKey,
      GITHUB_APP_INSTALLATION_ID: String(github.installationId),
      GITHUB_API_URL: github.url,
      GITHUB_WEB_URL: github.url,
    },
    gatewayEnv: { LOOKOUT_EGRESS_PRIVATE_DESTINATIONS: new URL(github.url).host },
    modelScripts: AGENT_SCRIPTS,
  });
  cookie = await stack.login();
  const call = apiClient(stack.url, cookie);
  const created = await call<{ repository: { id: string } }>("POST", "/api/repositories", {
    kind: "github",
    owner: "acme",
    name: "widgets",
  });
  expect(created.status).toBe(201);
  repositoryId = created.json.repository.id;
  expect((await call("PUT", `/api/repositories/${repositoryId}/secrets/E2E_REPO_SECRET`, { value: REPOSITORY_SECRET })).status).toBe(204);
});

afterAll(async () => {
  await stack?.stop();
  await github?.close();
});

async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n${stack.logs().slice(-6000)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** An `issue_comment.created` delivery, shaped like `@octokit/webhooks-examples`' with `issue.pull_request` added. */
function mention(commentId: number, body: string, on: { number: number; login: string; id: number }) {
  const user = { login: on.login, id: on.id, type: "User" };
  return JSON.stringify({
    action: "created",
    issue: {
      number: on.number,
      title: "Add the widget",
      user,
      pull_request: {
        url: `${github.url}/repos/${REPOSITORY}/pulls/${on.number}`,
        html_url: `${github.url}/${REPOSITORY}/pull/${on.number}`,
      },
    },
    comment: { id: commentId, body, user, html_url: `${github.url}/${REPOSITORY}/pull/${on.number}#issuecomment-${commentId}` },
    repository: { id: 1, name: "widgets", full_name: REPOSITORY, owner: { login: "acme", type: "Organization" } },
    sender: user,
  });
}

const ADA = { login: "ada", id: 4242 };

async function deliver(body: string) {
  const sentAt = Date.now();
  const response = await fetch(`${stack.url}/api/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "issue_comment",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`,
    },
    body,
  });
  return { status: response.status, json: (await response.json()) as { mention?: string }, tookMs: Date.now() - sentAt };
}

interface LoggedEvent {
  payload: { type: string; status?: string; text?: string; branch?: string; tool?: string; output?: string; promptId?: string };
}

async function sessionEvents(sessionId: string): Promise<LoggedEvent[]> {
  const log = await apiClient(stack.url, cookie)<{ events: LoggedEvent[] }>("GET", `/api/sessions/${sessionId}/events?after=0`);
  return log.json.events;
}

/** Mentions Lookout on a pull request and returns the reply's session once it started. */
async function startMention(number: number, commentId: number, text: string) {
  const answer = await deliver(mention(commentId, text, { number, ...ADA }));
  expect(answer.status).toBe(202);
  expect(answer.json.mention).toBe("accepted");
  expect(answer.tookMs).toBeLessThan(ANSWER_DEADLINE_MS);
  const reply = await eventually(() => github.comments.find((comment) => comment.number === number), 30_000, "the reply comment");
  const sessionId = /\/sessions\/(ses_[A-Za-z0-9]+)/.exec(reply.body)?.[1] ?? "";
  expect(reply.body).toContain(`${stack.url}/sessions/${sessionId}`);
  return { reply, sessionId };
}

/** Waits for the session's `count`-th prompt to finish and for the reply's edit that reports it. */
async function settled(sessionId: string, reply: { edits: string[] }, count = 1) {
  const finished = await eventually(
    async () => {
      const ends = (await sessionEvents(sessionId)).filter((event) => event.payload.type === "prompt.finished");
      return ends.length >= count ? ends : undefined;
    },
    RUN_DEADLINE_MS,
    "the prompt to finish",
  );
  expect(finished.map((event) => event.payload.status)).toEqual(Array<string>(count).fill("completed"));
  await eventually(() => (reply.edits.length >= count ? true : undefined), 60_000, "the reply's edit");
}

describe("a GitHub pull request mention on the real stack", () => {
  it(
    "runs to completion: the commit on a new branch, a pull request based on the mentioned one's branch, the reply edited once",
    async () => {
      const pull = github.addPull({
        number: 7,
        title: "Add the widget",
        head: "add-widget",
        base: "main",
        files: { "src/widget.js": "x\n" },
      });
      const { reply, sessionId } = await startMention(7, 901, "@lookout-app please rename the widget");
      expect(github.reactions).toContainEqual({ commentId: 901, content: "eyes" });
      const session = await apiClient(stack.url, cookie)<{ session: SessionSummary }>("GET", `/api/sessions/${sessionId}`);
      expect(session.json.session.origin).toEqual({
        kind: "github",
        repository: REPOSITORY,
        pullRequest: 7,
        commentId: 901,
        commentKind: "issue",
        fork: false,
        url: `${github.url}/${REPOSITORY}/pull/7`,
      });
      const events = await sessionEvents(sessionId);
      expect(events.find((event) => event.payload.type === "session.created")).toMatchObject({ payload: { baseBranch: "add-widget" } });

      await settled(sessionId, reply);
      // The agent's branch is on the fake's repository, on top of the pull request's head.
      expect(github.createdPulls).toHaveLength(1);
      const opened = github.createdPulls[0]!;
      expect(opened).toMatchObject({ base: "add-widget", title: "Rename the widget" });
      expect(opened.head).toMatch(/^lookout\//);
      expect(github.git.fileAt(`refs/heads/${opened.head}`, "WIDGET_NAME.md")).toBe("gadget\n");
      expect(github.git.contains(`refs/heads/${opened.head}`, pull.headSha)).toBe(true);
      expect(github.git.sha("refs/heads/add-widget")).toBe(pull.headSha);
      expect(github.git.requests.filter((request) => request.service === "git-receive-pack" && request.status !== 200)).toEqual([]);

      // One edit, carrying both the summary and the pull request.
      expect(reply.edits).toHaveLength(1);
      expect(reply.body).toContain("✅ Lookout finished");
      expect(reply.body).toContain("Renamed the widget to gadget in `WIDGET_NAME.md`.");
      expect(reply.body).toContain(`Changes: ${github.url}/${REPOSITORY}/pull/${opened.number}`);
      expect(github.comments.filter((comment) => comment.number === 7)).toHaveLength(1);
    },
    RUN_DEADLINE_MS + 60_000,
  );

  it("joins a follow-up mention on the same pull request to that session: 👀, a second prompt, no second reply", async () => {
    const sessionId = /\/sessions\/(ses_[A-Za-z0-9]+)/.exec(github.comments.find((comment) => comment.number === 7)?.body ?? "")?.[1];
    expect(sessionId).toBeDefined();
    const followUp = await deliver(mention(902, "@lookout-app also say thanks", { number: 7, ...ADA }));
    expect(followUp.json.mention).toBe("accepted");
    await eventually(() => github.reactions.find((reaction) => reaction.commentId === 902), 30_000, "the follow-up's 👀");
    await eventually(
      async () => {
        const prompts = (await sessionEvents(sessionId ?? "")).filter((event) => event.payload.type === "prompt.queued");
        return prompts.length === 2 && prompts[1]?.payload.text?.includes("also say thanks") ? prompts : undefined;
      },
      30_000,
      "the follow-up prompt in the same session",
    );
    expect(github.comments.filter((comment) => comment.number === 7)).toHaveLength(1);
  });

  it(
    "pushes to the pull request's own branch under direct-push, opening no pull request",
    async () => {
      const settings = { enabled: true, allowlist: [], pushPolicy: "direct-push", autoReview: false };
      expect((await apiClient(stack.url, cookie)("PUT", `/api/github-triggers/${repositoryId}`, settings)).status).toBe(200);
      const pull = github.addPull({
        number: 9,
        title: "Widget docs",
        head: "widget-docs",
        base: "main",
        files: { "docs/widget.md": "x\n" },
      });
      const pullsBefore = github.createdPulls.length;
      const { reply, sessionId } = await startMention(9, 931, "@lookout-app please update the changelog");

      await settled(sessionId, reply);
      const tip = github.git.sha("refs/heads/widget-docs");
      expect(tip).not.toBe(pull.headSha);
      expect(github.git.contains("refs/heads/widget-docs", pull.headSha)).toBe(true);
      expect(github.git.fileAt("refs/heads/widget-docs", "CHANGELOG.md")).toBe("- Docs for the widget\n");
      expect(github.git.branches().filter((branch) => branch.startsWith("lookout/"))).toHaveLength(1);
      expect(github.createdPulls).toHaveLength(pullsBefore);
      const pushes = (await sessionEvents(sessionId)).filter((event) => event.payload.type === "git.push");
      expect(pushes.map((event) => [event.payload.branch, event.payload.status])).toEqual([["widget-docs", "pushed"]]);
      expect(reply.edits).toHaveLength(1);
      expect(reply.body).toContain("Added the changelog entry.");
      expect(reply.body).not.toContain("Changes:");
    },
    RUN_DEADLINE_MS + 60_000,
  );

  it(
    "gives a fork's pull request no push at all and no repository secrets: the reply carries a suggested patch",
    async () => {
      github.addPull({
        number: 11,
        title: "Typo",
        head: "patch-1",
        base: "main",
        fork: "someone/widgets",
        files: { "NOTES.md": "wigdet\n" },
      });
      const receivePacksBefore = github.git.requests.filter((request) => request.service === "git-receive-pack").length;
      const uploadPacksBefore = github.git.requests.filter((request) => request.service === "git-upload-pack").length;
      const pullsBefore = github.createdPulls.length;
      const { reply, sessionId } = await startMention(11, 941, "@lookout-app please fix the typo");

      await settled(sessionId, reply);
      const events = await sessionEvents(sessionId);
      const secretCheck = events.find((event) => event.payload.type === "tool.call" && event.payload.tool === "bash");
      expect(secretCheck?.payload.output).toContain("no-repository-secret");
      // It works on the fork's head: the fork's file (in no branch of the repository) is there.
      expect(secretCheck?.payload.output).toContain("notes: wigdet");
      // It cloned with its read-only token, and never tried to push.
      expect(github.git.requests.filter((request) => request.service === "git-upload-pack").length).toBeGreaterThan(uploadPacksBefore);
      expect(github.git.requests.filter((request) => request.service === "git-receive-pack")).toHaveLength(receivePacksBefore);
      expect(events.filter((event) => event.payload.type === "git.push")).toEqual([]);
      expect(github.createdPulls).toHaveLength(pullsBefore);

      expect(reply.edits).toHaveLength(1);
      expect(reply.body).toContain("Fixed the typo.");
      expect(reply.body).toContain("Suggested patch");
      expect(reply.body).toMatch(/```diff\n[\s\S]*\+\+\+ b\/TYPO_FIX\.md[\s\S]*\+widget, not wigdet\n```/);
      expect(reply.body).toContain("nothing was pushed");
    },
    RUN_DEADLINE_MS + 60_000,
  );

  it("refuses someone without write access with a polite reply, starting nothing", async () => {
    github.addPull({ number: 8, title: "Docs", head: "docs", base: "main", files: { "docs/a.md": "a\n" } });
    const answer = await deliver(mention(911, "@lookout-app do it", { number: 8, login: "reader", id: 4343 }));
    expect(answer.json.mention).toBe("accepted");
    const refusal = await eventually(() => github.comments.find((comment) => comment.number === 8), 30_000, "the refusal");
    expect(refusal.body).toMatch(/^Thanks for the mention, @reader!/);
    const sessions = await apiClient(stack.url, cookie)<{ sessions: SessionSummary[] }>("GET", "/api/sessions");
    expect(sessions.json.sessions.filter((session) => session.origin?.kind === "github" && session.origin.pullRequest === 8)).toEqual([]);
    expect(github.reactions.find((reaction) => reaction.commentId === 911)).toBeUndefined();
  });
});
