import type { Author, EventPayload, PullRequest, QueuedPrompt, Repository, SessionEvent, SessionState } from "@lookout/protocol";
import { eventKey } from "@lookout/protocol";
import type { SessionSummary } from "@lookout/protocol";

export const ADA: Author = { userId: "u_ada", name: "Ada Lovelace", email: "ada@example.com" };
export const GRACE: Author = { userId: "u_grace", name: "Grace Hopper" };

/** The GitHub repository `r_1` the fixture sessions run on. */
export const ACME_WEB: Repository = {
  id: "r_1",
  kind: "github",
  fullName: "acme/web",
  name: "web",
  owner: "acme",
  path: null,
  defaultBranch: "main",
  description: null,
  createdAt: 1,
  updatedAt: 1,
};

/** A stored event with the key the server would give its payload. */
export function ev(seq: number, payload: EventPayload, at = 1_700_000_000_000 + seq * 1000): SessionEvent {
  return { seq, at, key: eventKey(payload), payload };
}

export function text(promptId: string, messageId: string, body: string, role: "assistant" | "reasoning" = "assistant"): EventPayload {
  return { type: "message.text", promptId, messageId, text: body, role };
}

export function tool(
  promptId: string,
  callId: string,
  state: "pending" | "running" | "completed" | "error",
  extra: Partial<Extract<EventPayload, { type: "tool.call" }>> = {},
): EventPayload {
  return { type: "tool.call", promptId, callId, tool: "bash", input: { command: "ls" }, state, ...extra };
}

export function queued(promptId: string, body: string, author: Author = ADA): EventPayload {
  return { type: "prompt.queued", promptId, author, text: body, model: "scripted/demo" };
}

export const SESSION: SessionState = {
  id: "s_1",
  title: "Fix the flaky login test",
  repositoryId: "r_1",
  repositoryName: "acme/web",
  baseBranch: "main",
  branch: "lookout/fix-login",
  model: "scripted/demo",
  reasoningEffort: null,
  status: "running",
  archived: false,
  owner: ADA,
  parentSessionId: null,
  origin: { kind: "dashboard" },
  sandboxStatus: "running",
  costUsd: 0.0123,
  createdAt: 1_700_000_000_000,
  updatedAt: 1_700_000_100_000,
};

export function summary(overrides: Partial<SessionSummary> = {}): SessionSummary {
  return {
    id: "s_1",
    title: "Fix the flaky login test",
    repositoryId: "r_1",
    repositoryName: "acme/web",
    status: "running",
    archived: false,
    owner: ADA,
    model: "scripted/demo",
    costUsd: 0.0123,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_100_000,
    lastActivityAt: Date.now() - 60_000,
    ...overrides,
  };
}

export function pending(promptId: string, body: string, author: Author = GRACE): QueuedPrompt {
  return {
    promptId,
    requestId: null,
    author,
    text: body,
    model: "scripted/demo",
    reasoningEffort: null,
    status: "pending",
    createdAt: 1_700_000_000_000,
    startedAt: null,
    finishedAt: null,
  };
}

export const BASE_SHA = "a".repeat(40);
export const HEAD_SHA = "b".repeat(40);

export const PR_DIFF = `diff --git a/src/login.ts b/src/login.ts
index 1111111..2222222 100644
--- a/src/login.ts
+++ b/src/login.ts
@@ -1,3 +1,3 @@
 export function login() {
-  return retry(3);
+  return retry(5);
 }
`;

/** A local pull request with its review record, as `GET /api/sessions/:id/pull-request` answers. */
export function localPullRequest(overrides: Partial<PullRequest> = {}): PullRequest {
  return {
    id: "pr_1",
    sessionId: "s_1",
    repositoryId: "r_1",
    provider: "local",
    number: null,
    url: "http://127.0.0.1:8787/sessions/s_1",
    title: "Fix the flaky login test",
    body: "Prompts in this session:\n- Make the login retry 5 times (Grace Hopper)",
    baseBranch: "main",
    headBranch: "lookout/fix-login",
    headSha: HEAD_SHA,
    state: "open",
    draft: true,
    openedBy: ADA,
    openedAs: "local",
    review: {
      baseSha: BASE_SHA,
      headSha: HEAD_SHA,
      mergeBaseSha: BASE_SHA,
      commits: [
        {
          sha: HEAD_SHA,
          subject: "Retry login 5 times",
          author: { name: "Grace Hopper", email: "grace@users.lookout.local" },
          committer: { name: "Lookout", email: "bot@lookout.local" },
          authoredAt: 1_700_000_050_000,
        },
      ],
      files: [{ path: "src/login.ts", change: "modified", additions: 1, deletions: 1 }],
      diff: PR_DIFF,
      diffTruncated: false,
    },
    mergeSha: null,
    createdAt: 1_700_000_060_000,
    updatedAt: 1_700_000_060_000,
    mergedAt: null,
    closedAt: null,
    ...overrides,
  };
}
