import type { Author, EventPayload, PresenceEntry, Repository, SessionEvent, SessionSummary } from "@lookout/protocol";
import { eventKey } from "@lookout/protocol";
import { fakeState, ME, toState, type FakeApiState } from "../test/fake-api";

const GRACE: Author = { userId: "u_grace", name: "Grace Hopper" };
const LINUS: Author = { userId: "u_linus", name: "Linus Chen" };
const MINUTE = 60_000;

const REPOSITORIES: Repository[] = [
  {
    id: "r_web",
    kind: "github",
    fullName: "acme/web",
    name: "web",
    owner: "acme",
    path: null,
    defaultBranch: "main",
    description: "The customer dashboard",
    createdAt: Date.now() - 40 * 24 * 60 * MINUTE,
    updatedAt: Date.now(),
  },
  {
    id: "r_api",
    kind: "github",
    fullName: "acme/api",
    name: "api",
    owner: "acme",
    path: null,
    defaultBranch: "main",
    description: "Public REST API",
    createdAt: Date.now() - 30 * 24 * 60 * MINUTE,
    updatedAt: Date.now(),
  },
  {
    id: "r_tools",
    kind: "local",
    fullName: "tools",
    name: "tools",
    owner: null,
    path: "/home/ada/code/tools",
    defaultBranch: "main",
    description: null,
    createdAt: Date.now() - 2 * 24 * 60 * MINUTE,
    updatedAt: Date.now(),
  },
];

const DIFF = `diff --git a/src/auth/login.ts b/src/auth/login.ts
index 4b1c2d0..9a7e3f1 100644
--- a/src/auth/login.ts
+++ b/src/auth/login.ts
@@ -12,9 +12,15 @@ import { session } from "./session";
 export async function login(credentials: Credentials): Promise<User> {
-  const response = await fetch("/api/login", {
-    method: "POST",
-    body: JSON.stringify(credentials),
-  });
-  return response.json();
+  const response = await retry(
+    () =>
+      fetch("/api/login", {
+        method: "POST",
+        headers: { "content-type": "application/json" },
+        body: JSON.stringify(credentials),
+      }),
+    { attempts: 3, backoffMs: 200 },
+  );
+  if (!response.ok) throw new LoginError(response.status);
+  return (await response.json()) as User;
 }
 
 export function logout(): void {
diff --git a/src/auth/retry.ts b/src/auth/retry.ts
new file mode 100644
index 0000000..c0ffee1
--- /dev/null
+++ b/src/auth/retry.ts
@@ -0,0 +1,18 @@
+export interface RetryOptions {
+  attempts: number;
+  backoffMs: number;
+}
+
+export async function retry<T>(run: () => Promise<T>, options: RetryOptions): Promise<T> {
+  let lastError: unknown;
+  for (let attempt = 0; attempt < options.attempts; attempt++) {
+    try {
+      return await run();
+    } catch (error) {
+      lastError = error;
+      await new Promise((resolve) => setTimeout(resolve, options.backoffMs * 2 ** attempt));
+    }
+  }
+  throw lastError;
+}
diff --git a/src/auth/login.test.ts b/src/auth/login.test.ts
index 77aa001..88bb002 100644
--- a/src/auth/login.test.ts
+++ b/src/auth/login.test.ts
@@ -30,6 +30,11 @@ describe("login", () => {
     expect(user.name).toBe("Ada");
   });
 
+  it("retries a dropped connection", async () => {
+    fetchMock.mockRejectOnce(new TypeError("network")).mockResponseOnce(JSON.stringify(ADA));
+    await expect(login(CREDENTIALS)).resolves.toEqual(ADA);
+  });
+
   it("rejects a wrong password", async () => {
-    fetchMock.mockResponseOnce("", { status: 401 });
+    fetchMock.mockResponseOnce("{}", { status: 401 });
     await expect(login(WRONG)).rejects.toThrow(LoginError);
`;

function events(start: number): SessionEvent[] {
  let seq = 0;
  const at = (minutes: number) => start + minutes * MINUTE;
  const e = (minutes: number, payload: EventPayload): SessionEvent => ({ seq: ++seq, at: at(minutes), key: eventKey(payload), payload });
  return [
    e(0, {
      type: "session.created",
      title: "Make login survive flaky networks",
      repositoryId: "r_web",
      baseBranch: "main",
      model: "anthropic/claude-sonnet-4-5",
      owner: ME,
    }),
    e(0.1, {
      type: "prompt.queued",
      promptId: "p1",
      author: ME,
      text: "The login test is flaky on CI because `fetch` sometimes drops the connection. Make `login()` retry transient failures (3 attempts, exponential backoff) and add a test for it.",
      model: "anthropic/claude-sonnet-4-5",
    }),
    e(0.2, { type: "sandbox.status", status: "spawning" }),
    e(0.6, { type: "sandbox.status", status: "ready", detail: "restored from snapshot in 2.1 s" }),
    e(0.7, { type: "prompt.started", promptId: "p1" }),
    e(0.8, {
      type: "message.text",
      promptId: "p1",
      messageId: "r1",
      role: "reasoning",
      text: "The test mocks fetch; a rejected promise from fetch is what CI shows. A small retry helper keeps login.ts readable.",
    }),
    e(0.9, {
      type: "message.text",
      promptId: "p1",
      messageId: "m1",
      role: "assistant",
      text: "I'll start by reading the login module and its test to see how `fetch` is called.",
    }),
    e(1.0, {
      type: "tool.call",
      promptId: "p1",
      callId: "c1",
      tool: "read",
      title: "src/auth/login.ts",
      input: { filePath: "src/auth/login.ts" },
      state: "completed",
      output:
        'export async function login(credentials: Credentials): Promise<User> {\n  const response = await fetch("/api/login", …);\n  return response.json();\n}',
      startedAt: at(1),
      endedAt: at(1) + 120,
    }),
    e(1.1, {
      type: "tool.call",
      promptId: "p1",
      callId: "c2",
      tool: "read",
      title: "src/auth/login.test.ts",
      input: { filePath: "src/auth/login.test.ts" },
      state: "completed",
      output: 'describe("login", () => { … })',
      startedAt: at(1.1),
      endedAt: at(1.1) + 90,
    }),
    e(1.2, {
      type: "tool.call",
      promptId: "p1",
      callId: "c3",
      tool: "grep",
      input: { pattern: "retry\\(", path: "src" },
      state: "completed",
      output: "No matches",
      startedAt: at(1.2),
      endedAt: at(1.2) + 300,
    }),
    e(2.0, {
      type: "message.text",
      promptId: "p1",
      messageId: "m2",
      role: "assistant",
      text: 'There is no retry helper yet. I\'ll add one in `src/auth/retry.ts` and use it from `login()`:\n\n- **3 attempts** with exponential backoff starting at 200 ms\n- non-2xx answers become a `LoginError` instead of a JSON parse error\n\n```ts\nconst response = await retry(() => fetch("/api/login", init), { attempts: 3, backoffMs: 200 });\n```',
    }),
    e(2.5, {
      type: "tool.call",
      promptId: "p1",
      callId: "c4",
      tool: "write",
      title: "src/auth/retry.ts",
      input: { filePath: "src/auth/retry.ts" },
      state: "completed",
      output: "Wrote 18 lines",
      startedAt: at(2.5),
      endedAt: at(2.5) + 40,
    }),
    e(2.6, {
      type: "tool.call",
      promptId: "p1",
      callId: "c5",
      tool: "edit",
      title: "src/auth/login.ts",
      input: { filePath: "src/auth/login.ts" },
      state: "completed",
      output: "Applied 1 edit",
      startedAt: at(2.6),
      endedAt: at(2.6) + 35,
    }),
    e(2.7, {
      type: "tool.call",
      promptId: "p1",
      callId: "c6",
      tool: "edit",
      title: "src/auth/login.test.ts",
      input: { filePath: "src/auth/login.test.ts" },
      state: "completed",
      output: "Applied 2 edits",
      startedAt: at(2.7),
      endedAt: at(2.7) + 30,
    }),
    e(3.2, {
      type: "tool.call",
      promptId: "p1",
      callId: "c7",
      tool: "bash",
      input: { command: "pnpm vitest run src/auth" },
      state: "completed",
      output: " ✓ src/auth/login.test.ts (6 tests) 41ms\n\n Test Files  1 passed (1)\n      Tests  6 passed (6)",
      startedAt: at(3.2),
      endedAt: at(3.2) + 6400,
    }),
    e(3.5, {
      type: "message.text",
      promptId: "p1",
      messageId: "m3",
      role: "assistant",
      text: "All 6 login tests pass, including the new **retries a dropped connection** case. I committed the change and opened a pull request.",
    }),
    e(3.6, {
      type: "files.changed",
      promptId: "p1",
      files: [
        { path: "src/auth/login.ts", change: "modified", additions: 11, deletions: 5 },
        { path: "src/auth/retry.ts", change: "added", additions: 18, deletions: 0 },
        { path: "src/auth/login.test.ts", change: "modified", additions: 6, deletions: 1 },
      ],
      diff: DIFF,
    }),
    e(3.7, {
      type: "git.commit",
      promptId: "p1",
      sha: "9a7e3f1c0ffee4b1c2d04b1c2d0",
      branch: "lookout/login-retry",
      message: "fix(auth): retry transient login failures",
      author: { name: "Ada Lovelace", email: "ada@example.com" },
    }),
    e(3.8, {
      type: "step.finished",
      promptId: "p1",
      tokens: { input: 18_240, output: 2_310, reasoning: 420, cacheRead: 12_000, cacheWrite: 0 },
      costUsd: 0.0891,
    }),
    e(3.8, {
      type: "step.finished",
      promptId: "p1",
      tokens: { input: 21_002, output: 1_180, reasoning: 0, cacheRead: 16_500, cacheWrite: 0 },
      costUsd: 0.0623,
    }),
    e(3.9, {
      type: "artifact",
      artifactId: "pr_412",
      kind: "pull_request",
      title: "fix(auth): retry transient login failures",
      url: "https://github.com/acme/web/pull/412",
      data: { number: 412, state: "open" },
    }),
    e(4.0, { type: "prompt.finished", promptId: "p1", status: "completed" }),
    e(6.0, { type: "participant.joined", participant: GRACE, role: "member" }),
    e(6.5, {
      type: "prompt.queued",
      promptId: "p2",
      author: GRACE,
      text: "Nice. Can you also log each retry at debug level so we can see it in Datadog?",
      model: "anthropic/claude-sonnet-4-5",
    }),
    e(6.6, { type: "prompt.started", promptId: "p2" }),
    e(6.8, {
      type: "message.text",
      promptId: "p2",
      messageId: "m4",
      role: "assistant",
      text: "Sure. I'll pass a logger into `retry()` so each failed attempt is logged with its attempt number and delay",
    }),
    e(7.0, {
      type: "tool.call",
      promptId: "p2",
      callId: "c8",
      tool: "bash",
      input: { command: 'rg -n "logger" src/lib | head' },
      state: "running",
      startedAt: at(7),
    }),
  ];
}

function session(overrides: Partial<SessionSummary> & Pick<SessionSummary, "id" | "title">): SessionSummary {
  const now = Date.now();
  return {
    repositoryId: "r_web",
    repositoryName: "acme/web",
    status: "idle",
    archived: false,
    owner: ME,
    model: "anthropic/claude-sonnet-4-5",
    costUsd: 0.12,
    createdAt: now - 60 * MINUTE,
    updatedAt: now - 10 * MINUTE,
    lastActivityAt: now - 10 * MINUTE,
    ...overrides,
  };
}

/** A lived-in workspace: several sessions in every state, and one rich session mid-run. */
export function demoState(): FakeApiState {
  const now = Date.now();
  const sessions: SessionSummary[] = [
    session({
      id: "s_login",
      title: "Make login survive flaky networks",
      status: "running",
      costUsd: 0.1514,
      lastActivityAt: now - 20_000,
    }),
    session({
      id: "s_pagination",
      title: "Cursor pagination for /v2/invoices",
      repositoryId: "r_api",
      repositoryName: "acme/api",
      owner: GRACE,
      status: "starting",
      costUsd: 0,
      lastActivityAt: now - 2 * MINUTE,
    }),
    session({
      id: "s_dark",
      title: "Dark mode for the settings pages",
      owner: LINUS,
      status: "idle",
      costUsd: 0.4231,
      lastActivityAt: now - 38 * MINUTE,
    }),
    session({
      id: "s_n1",
      title: "Fix N+1 query in the orders endpoint",
      repositoryId: "r_api",
      repositoryName: "acme/api",
      status: "idle",
      costUsd: 0.2877,
      lastActivityAt: now - 3 * 60 * MINUTE,
    }),
    session({
      id: "s_upgrade",
      title: "Upgrade to React 19 and fix the type errors",
      owner: GRACE,
      status: "failed",
      costUsd: 1.0412,
      lastActivityAt: now - 26 * 60 * MINUTE,
    }),
    session({
      id: "s_cli",
      title: "Add a --json flag to the release CLI",
      repositoryId: "r_tools",
      repositoryName: "tools",
      model: "scripted/demo",
      status: "stopped",
      costUsd: 0,
      lastActivityAt: now - 3 * 24 * 60 * MINUTE,
    }),
    session({
      id: "s_old",
      title: "Remove the legacy billing webhooks",
      repositoryId: "r_api",
      repositoryName: "acme/api",
      archived: true,
      status: "stopped",
      costUsd: 0.31,
      lastActivityAt: now - 9 * 24 * 60 * MINUTE,
    }),
  ];
  const state = fakeState({ repositories: REPOSITORIES, sessions });
  for (const summary of sessions) state.sessionStates.set(summary.id, toState(summary));
  state.sessionStates.set(
    "s_login",
    toState(sessions[0]!, {
      branch: "lookout/login-retry",
      sandboxStatus: "running",
      reasoningEffort: "medium",
      createdAt: now - 8 * MINUTE,
    }),
  );
  state.events.set("s_login", events(now - 8 * MINUTE));
  state.queues.set("s_login", [
    {
      promptId: "p3",
      requestId: null,
      author: LINUS,
      text: "After that, bump the retry attempts to 5 on mobile clients",
      model: "anthropic/claude-sonnet-4-5",
      reasoningEffort: null,
      status: "pending",
      createdAt: now - 30_000,
      startedAt: null,
      finishedAt: null,
    },
  ]);
  state.secrets.set(
    "global",
    new Map([
      ["NPM_TOKEN", now - 5 * 24 * 60 * MINUTE],
      ["SENTRY_DSN", now - 2 * 60 * MINUTE],
    ]),
  );
  state.secrets.set("r_web", new Map([["STRIPE_TEST_KEY", now - 24 * 60 * MINUTE]]));
  return state;
}

export const DEMO_PRESENCE: PresenceEntry[] = [
  { participant: ME, role: "owner", status: "active", typing: false, connections: 1 },
  { participant: GRACE, role: "member", status: "active", typing: true, connections: 2 },
  { participant: LINUS, role: "member", status: "idle", typing: false, connections: 1 },
];
