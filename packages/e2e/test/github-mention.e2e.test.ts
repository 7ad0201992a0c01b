import { createHmac, randomUUID } from "node:crypto";
import type { SessionSummary } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type Stack, startStack } from "../src";
import { type FakeGitHub, startFakeGitHub } from "../src/fake-github";

/**
 * A GitHub pull request @mention on the real stack (wrangler dev with its D1 and Durable Objects, the
 * gateway) against a fake GitHub API that checks the App's JWT and installation tokens: the signed
 * `issue_comment` is answered at once, the comment gets 👀, a session starts on the pull request's
 * head with a reply linking it, a second mention joins that session, and someone without write
 * access gets one polite refusal per pull request.
 *
 * Offline, a sandbox cannot clone a github.com repository, so the session's prompt never settles
 * here; the reply's edit through the outbox is covered in workerd by
 * `apps/control-plane/test/github-mention-report.test.ts`.
 */
const WEBHOOK_SECRET = "e2e-github-webhook-secret";
const REPOSITORY = "acme/widgets";
const ANSWER_DEADLINE_MS = 10_000;
const POLL_MS = 250;

let stack: Stack;
let github: FakeGitHub;
let cookie: string;

beforeAll(async () => {
  github = await startFakeGitHub({ repository: REPOSITORY });
  github.permissions.ada = "write";
  github.pulls.push({ number: 7, title: "Add the widget", head: "add-widget", base: "main", headSha: "c".repeat(40) });
  stack = await startStack({
    vars: {
      GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      GITHUB_APP_ID: github.appId,
      GITHUB_APP_PRIVATE_KEY: github.privateKey,
      GITHUB_APP_INSTALLATION_ID: String(github.installationId),
      GITHUB_API_URL: github.url,
    },
  });
  cookie = await stack.login();
  const created = await apiClient(stack.url, cookie)("POST", "/api/repositories", { kind: "github", owner: "acme", name: "widgets" });
  expect(created.status).toBe(201);
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
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n${stack.logs().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** An `issue_comment.created` delivery on pull request #7, shaped like `@octokit/webhooks-examples`' with `issue.pull_request` added. */
function mention(
  commentId: number,
  body: string,
  on: { number: number; login: string; id: number } = { number: 7, login: "ada", id: 4242 },
) {
  const user = { login: on.login, id: on.id, type: "User" };
  return JSON.stringify({
    action: "created",
    issue: {
      number: on.number,
      title: "Add the widget",
      user,
      pull_request: {
        url: `https://api.github.com/repos/${REPOSITORY}/pulls/${on.number}`,
        html_url: `https://github.com/${REPOSITORY}/pull/${on.number}`,
      },
    },
    comment: { id: commentId, body, user, html_url: `https://github.com/${REPOSITORY}/pull/${on.number}#issuecomment-${commentId}` },
    repository: { id: 1, name: "widgets", full_name: REPOSITORY, owner: { login: "acme", type: "Organization" } },
    sender: user,
  });
}

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

describe("a GitHub pull request mention on the real stack", () => {
  it("reacts, starts a session on the pull request's head, links it, and joins a follow-up mention to it", async () => {
    const answer = await deliver(mention(901, "@lookout-app please rename the widget"));
    expect(answer.status).toBe(202);
    expect(answer.json.mention).toBe("accepted");
    expect(answer.tookMs).toBeLessThan(ANSWER_DEADLINE_MS);

    const reply = await eventually(() => github.comments.find((comment) => comment.number === 7), 30_000, "the reply comment");
    expect(github.reactions).toContainEqual({ commentId: 901, content: "eyes" });
    const sessionId = /\/sessions\/(ses_[A-Za-z0-9]+)/.exec(reply.body)?.[1] ?? "";
    expect(reply.body).toContain(`${stack.url}/sessions/${sessionId}`);
    const call = apiClient(stack.url, cookie);
    const session = await call<{ session: SessionSummary }>("GET", `/api/sessions/${sessionId}`);
    expect(session.json.session.origin).toEqual({
      kind: "github",
      repository: REPOSITORY,
      pullRequest: 7,
      commentId: 901,
      commentKind: "issue",
      fork: false,
    });
    const events = await call<{ events: { payload: { type: string; baseBranch?: string } }[] }>(
      "GET",
      `/api/sessions/${sessionId}/events?after=0`,
    );
    expect(events.json.events.find((event) => event.payload.type === "session.created")?.payload.baseBranch).toBe("add-widget");

    // A second mention while the session is active joins it: 👀, a second prompt, no second reply.
    const followUp = await deliver(mention(902, "@lookout-app also update the changelog"));
    expect(followUp.json.mention).toBe("accepted");
    await eventually(() => github.reactions.find((reaction) => reaction.commentId === 902), 30_000, "the follow-up's 👀");
    await eventually(
      async () => {
        const log = await call<{ events: { payload: { type: string; text?: string } }[] }>(
          "GET",
          `/api/sessions/${sessionId}/events?after=0`,
        );
        const prompts = log.json.events.filter((event) => event.payload.type === "prompt.queued");
        return prompts.length === 2 && prompts[1]?.payload.text?.includes("also update the changelog") ? prompts : undefined;
      },
      30_000,
      "the follow-up prompt in the same session",
    );
    expect(github.comments.filter((comment) => comment.number === 7)).toHaveLength(1);
    expect(reply.edits).toEqual([]);
  });

  it("refuses someone without write access with a polite reply, starting nothing", async () => {
    github.pulls.push({ number: 8, title: "Docs", head: "docs", base: "main", headSha: "e".repeat(40) });
    const answer = await deliver(mention(911, "@lookout-app do it", { number: 8, login: "reader", id: 4343 }));
    expect(answer.json.mention).toBe("accepted");
    const refusal = await eventually(() => github.comments.find((comment) => comment.number === 8), 30_000, "the refusal");
    expect(refusal.body).toMatch(/^Thanks for the mention, @reader!/);
    const sessions = await apiClient(stack.url, cookie)<{ sessions: SessionSummary[] }>("GET", "/api/sessions");
    expect(sessions.json.sessions.filter((session) => session.origin?.kind === "github" && session.origin.pullRequest === 8)).toEqual([]);
    expect(github.reactions.find((reaction) => reaction.commentId === 911)).toBeUndefined();
  });
});
