import { SELF, env } from "cloudflare:test";
import { type PullRequest, type SessionCommand, verifyGitCredential } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { PullRequestStore } from "../src/db/pull-requests";
import { RepositoryStore } from "../src/db/repositories";
import { call } from "./support/auth";
import { api, createRepositoryAndSession, eventsOf, login, openBridge, ORIGIN, type Peer, sandboxRequestFor, subscribe } from "./helpers";

/**
 * Source control through the real Worker, Durable Objects and D1: git credentials for a sandbox,
 * local pull requests (the gateway's git operations are faked here and tested with real git in the
 * gateway's own tests), held-back workflow pushes, and GitHub webhooks with Octokit's published
 * example payloads.
 */
let cookie: string;
beforeAll(async () => {
  cookie = await login();
});

const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);
const review = (headSha: string) => ({
  baseSha: "1".repeat(40),
  headSha,
  mergeBaseSha: "1".repeat(40),
  commits: [
    {
      sha: headSha,
      subject: "Add the feature",
      author: { name: "Admin", email: "admin@users.lookout.local" },
      committer: { name: "Lookout", email: "bot@lookout.local" },
      authoredAt: 1,
    },
  ],
  files: [{ path: "src/feature.js", change: "added", additions: 1, deletions: 0 }],
  diff: "+export const feature = 1;\n",
  diffTruncated: false,
});

async function fakeGit(patch: Record<string, unknown>): Promise<void> {
  await env.GATEWAY!.fetch("http://gateway/__fake/git", { method: "POST", body: JSON.stringify(patch) });
}

async function credentialRequest(
  sessionId: string,
  headers: Record<string, string>,
  body: unknown = { protocol: "http", host: "127.0.0.1:8788", path: `git/${sessionId}.git` },
) {
  const response = await SELF.fetch(`${ORIGIN}/api/sessions/${sessionId}/git-credentials`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as any };
}

async function sandboxOf(sessionId: string): Promise<{ sandboxId: string; token: string }> {
  await api(cookie)("POST", `/api/sessions/${sessionId}/prompts`, { requestId: `wake-${sessionId}`, text: "make a change" });
  const request = await sandboxRequestFor(sessionId);
  return { sandboxId: request.sandboxId, token: request.sandboxToken };
}

async function connectedBridge(sessionId: string, sandbox: { sandboxId: string; token: string }): Promise<Peer<SessionCommand>> {
  const { peer } = await openBridge(sessionId, sandbox.sandboxId, sandbox.token);
  if (!peer) throw new Error("bridge refused");
  await peer.waitFor((m) => m.type === "bridge.welcome");
  return peer;
}

describe("git credentials for a sandbox", () => {
  it("are minted for the session's branch and repository when the sandbox token verifies", async () => {
    const { sessionId, repositoryId } = await createRepositoryAndSession(cookie);
    const sandbox = await sandboxOf(sessionId);
    const { status, json } = await credentialRequest(sessionId, {
      authorization: `Bearer ${sandbox.token}`,
      "x-lookout-sandbox-id": sandbox.sandboxId,
    });
    expect(status).toBe(200);
    expect(json.username).toBe("lookout");
    expect(json.expiresAt).toBeGreaterThan(Date.now());
    expect(json.expiresAt).toBeLessThanOrEqual(Date.now() + 10 * 60_000 + 1_000);
    const claims = await verifyGitCredential("test-git-credential-secret", json.password, { sessionId });
    const repository = await new RepositoryStore(env.DB).get(repositoryId);
    expect(claims).toMatchObject({ sid: sessionId, repo: repository?.path, ref: `refs/heads/lookout/${sessionId}` });
    expect(claims.workflowSha).toBeUndefined();
  });

  it("are refused for a wrong token, another session's sandbox, no token, or another host", async () => {
    const first = await createRepositoryAndSession(cookie);
    const second = await createRepositoryAndSession(cookie);
    const sandboxA = await sandboxOf(first.sessionId);
    const sandboxB = await sandboxOf(second.sessionId);
    expect(
      (await credentialRequest(first.sessionId, { authorization: "Bearer not-the-token", "x-lookout-sandbox-id": sandboxA.sandboxId }))
        .status,
    ).toBe(401);
    expect(
      (await credentialRequest(first.sessionId, { authorization: `Bearer ${sandboxB.token}`, "x-lookout-sandbox-id": sandboxB.sandboxId }))
        .status,
    ).toBe(401);
    expect((await credentialRequest(first.sessionId, {})).status).toBe(401);
    expect((await credentialRequest(first.sessionId, { cookie })).status).toBe(401);
    const elsewhere = await credentialRequest(
      first.sessionId,
      { authorization: `Bearer ${sandboxA.token}`, "x-lookout-sandbox-id": sandboxA.sandboxId },
      { protocol: "https", host: "github.com", path: "acme/app.git" },
    );
    expect(elsewhere.status).toBe(403);
  });
});

describe("local pull requests", () => {
  it("are a review record of the pushed branch, shown as an artifact, updated rather than duplicated, and merged on request", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie, { prompt: "Add the feature" });
    const call = api(cookie);
    await fakeGit({ review: null });
    const unpushed = await call("POST", `/api/sessions/${sessionId}/pull-request`, {});
    expect(unpushed.status).toBe(409);
    expect(unpushed.json.error.code).toBe("BRANCH_NOT_PUSHED");

    await fakeGit({ review: review(SHA_A) });
    const peer = await subscribe(cookie, sessionId);
    const opened = await call("POST", `/api/sessions/${sessionId}/pull-request`, {});
    expect(opened.status).toBe(201);
    const pr: PullRequest = opened.json.pullRequest;
    expect(pr).toMatchObject({
      provider: "local",
      state: "open",
      draft: true,
      headBranch: `lookout/${sessionId}`,
      baseBranch: "main",
      headSha: SHA_A,
      openedAs: "local",
      openedBy: { name: "Admin" },
    });
    expect(pr.review?.commits[0]?.author).toEqual({ name: "Admin", email: "admin@users.lookout.local" });
    expect(pr.review?.diff).toContain("+export const feature = 1;");
    expect(pr.url).toBe(`http://127.0.0.1:8787/sessions/${sessionId}`);
    expect(pr.body).toContain("Add the feature (Admin)");
    expect(pr.body).toContain(`/sessions/${sessionId}`);
    const artifact = await peer.waitFor((m) => m.type === "events" && m.events.some((e) => e.payload.type === "artifact"));
    expect(artifact.type === "events" && artifact.events[0]?.payload).toMatchObject({
      type: "artifact",
      kind: "pull_request",
      artifactId: pr.id,
      data: { state: "open", provider: "local" },
    });

    await fakeGit({ review: review(SHA_B) });
    const again = await call("POST", `/api/sessions/${sessionId}/pull-request`, { title: "Add the feature, take two" });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ created: false, pullRequest: { id: pr.id, headSha: SHA_B, title: "Add the feature, take two" } });
    expect((await call("GET", `/api/sessions/${sessionId}/pull-request`)).json.pullRequest.id).toBe(pr.id);

    await fakeGit({ mergeConflict: true });
    const conflict = await call("POST", `/api/sessions/${sessionId}/pull-request/merge`, {});
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe("MERGE_CONFLICT");
    await fakeGit({ mergeConflict: false });
    const merged = await call("POST", `/api/sessions/${sessionId}/pull-request/merge`, {});
    expect(merged.status).toBe(200);
    expect(merged.json.pullRequest).toMatchObject({ state: "merged", mergeSha: "9".repeat(40) });
    const stored = eventsOf(await subscribe(cookie, sessionId)).filter((e) => e.payload.type === "artifact");
    expect(stored).toHaveLength(1);
    expect(stored[0]?.payload).toMatchObject({ data: { state: "merged" } });
    expect((await call("POST", `/api/sessions/${sessionId}/pull-request/merge`, {})).json.error.code).toBe("PULL_REQUEST_CLOSED");
  });

  it("follow a later push of the branch", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    await fakeGit({ review: review(SHA_A) });
    await api(cookie)("POST", `/api/sessions/${sessionId}/pull-request`, {});
    const sandbox = await sandboxOf(sessionId);
    const bridge = await connectedBridge(sessionId, sandbox);
    await fakeGit({ review: review(SHA_B) });
    bridge.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready" } });
    bridge.send({
      type: "bridge.event",
      bseq: 2,
      event: { type: "git.push", branch: `lookout/${sessionId}`, headSha: SHA_B, status: "pushed" },
    });
    await bridge.waitFor((m) => m.type === "bridge.ack" && m.bseq === 2);
    const deadline = Date.now() + 5_000;
    let pr = await new PullRequestStore(env.DB).forSession(sessionId);
    while (pr?.headSha !== SHA_B && Date.now() < deadline) {
      await scheduler.wait(20);
      pr = await new PullRequestStore(env.DB).forSession(sessionId);
    }
    expect(pr?.headSha).toBe(SHA_B);
  });
});

describe("pushes that change workflows", () => {
  it("wait for a participant's approval, then the bridge is told and credentials carry the approved commit", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const sandbox = await sandboxOf(sessionId);
    const bridge = await connectedBridge(sessionId, sandbox);
    const peer = await subscribe(cookie, sessionId);
    bridge.send({
      type: "bridge.event",
      bseq: 1,
      event: {
        type: "push.approval.requested",
        approvalId: "apr_1",
        branch: `lookout/${sessionId}`,
        headSha: SHA_A,
        files: [".github/workflows/ci.yml"],
      },
    });
    const pending = await peer.waitFor((m) => m.type === "events" && m.events.some((e) => e.payload.type === "push.approval"));
    expect(pending.type === "events" && pending.events.find((e) => e.payload.type === "push.approval")?.payload).toMatchObject({
      state: "pending",
      files: [".github/workflows/ci.yml"],
    });

    const headers = { authorization: `Bearer ${sandbox.token}`, "x-lookout-sandbox-id": sandbox.sandboxId };
    const before = await credentialRequest(sessionId, headers);
    expect((await verifyGitCredential("test-git-credential-secret", before.json.password, { sessionId })).workflowSha).toBeUndefined();

    const decided = await api(cookie)("POST", `/api/sessions/${sessionId}/push-approvals/apr_1`, { decision: "approve" });
    expect(decided.status).toBe(200);
    const command = await bridge.waitFor((m) => m.type === "command.push.decided");
    expect(command).toMatchObject({ approvalId: "apr_1", headSha: SHA_A, decision: "approve" });
    const after = await credentialRequest(sessionId, headers);
    expect((await verifyGitCredential("test-git-credential-secret", after.json.password, { sessionId })).workflowSha).toBe(SHA_A);

    const twice = await api(cookie)("POST", `/api/sessions/${sessionId}/push-approvals/apr_1`, { decision: "reject" });
    expect(twice.status).toBe(409);
    const unknown = await api(cookie)("POST", `/api/sessions/${sessionId}/push-approvals/apr_nope`, { decision: "approve" });
    expect(unknown.json.error.code).toBe("PUSH_APPROVAL_NOT_FOUND");
  });
});

describe("GitHub webhooks", () => {
  const examples = JSON.parse(env.TEST_PULL_REQUEST_EXAMPLES) as Record<
    string,
    { repository: { name: string; owner: { login: string } }; number: number }
  >;

  async function sign(body: string, secret = "test-github-webhook-secret"): Promise<string> {
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
    return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  async function deliver(body: string, headers: Record<string, string>, envOverride = {}): Promise<Response> {
    return call(
      "/api/webhooks/github",
      { method: "POST", headers: { "content-type": "application/json", "x-github-event": "pull_request", ...headers }, body },
      envOverride,
    );
  }

  /** The example's repository registered, with a pull request #2 Lookout opened for a session. */
  async function knownPullRequest(): Promise<PullRequest> {
    const example = examples.closed!;
    const repository =
      (await new RepositoryStore(env.DB).findGithub(example.repository.owner.login, example.repository.name)) ??
      (await new RepositoryStore(env.DB).create({
        kind: "github",
        owner: example.repository.owner.login,
        name: example.repository.name,
        defaultBranch: "main",
      }));
    const { sessionId } = await createRepositoryAndSession(cookie);
    const now = Date.now();
    const store = new PullRequestStore(env.DB);
    const existing = await store.forNumber(repository.id, example.number);
    const base = existing ?? {
      id: `pr_${crypto.randomUUID().slice(0, 8)}`,
      sessionId,
      repositoryId: repository.id,
      provider: "github" as const,
      number: example.number,
      url: "https://github.com/Codertocat/Hello-World/pull/2",
      title: "Update the README",
      body: "",
      baseBranch: "master",
      headBranch: "changes",
      headSha: null,
      state: "open" as const,
      draft: false,
      openedBy: { userId: "admin", name: "Admin" },
      openedAs: "app" as const,
      review: null,
      mergeSha: null,
      createdAt: now,
      updatedAt: now,
      mergedAt: null,
      closedAt: null,
    };
    return store.upsert({ ...base, state: "open", closedAt: null, mergedAt: null });
  }

  it("apply a verified delivery once and ignore its replay", async () => {
    const pr = await knownPullRequest();
    const body = JSON.stringify(examples.closed);
    const delivery = crypto.randomUUID();
    const first = await deliver(body, { "x-hub-signature-256": await sign(body), "x-github-delivery": delivery });
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ ok: true, applied: true });
    expect((await new PullRequestStore(env.DB).forNumber(pr.repositoryId, pr.number!))?.state).toBe("closed");

    // Reopen it locally: a replay of the "closed" delivery must not close it again.
    await new PullRequestStore(env.DB).applyState(pr.id, { state: "open" }, Date.now());
    const replay = await deliver(body, { "x-hub-signature-256": await sign(body), "x-github-delivery": delivery });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ duplicate: true });
    expect((await new PullRequestStore(env.DB).forNumber(pr.repositoryId, pr.number!))?.state).toBe("open");

    const draft = JSON.stringify(examples.converted_to_draft);
    expect((await deliver(draft, { "x-hub-signature-256": await sign(draft), "x-github-delivery": crypto.randomUUID() })).status).toBe(202);
    expect((await new PullRequestStore(env.DB).forNumber(pr.repositoryId, pr.number!))?.draft).toBe(true);
  });

  it("refuse a bad or missing signature and change nothing", async () => {
    const pr = await knownPullRequest();
    const body = JSON.stringify(examples.closed);
    const delivery = crypto.randomUUID();
    const forged = await deliver(body, { "x-hub-signature-256": await sign(body, "another-secret"), "x-github-delivery": delivery });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as any).error.code).toBe("WEBHOOK_SIGNATURE_INVALID");
    const tampered = await deliver(body.replace('"closed"', '"open"'), {
      "x-hub-signature-256": await sign(body),
      "x-github-delivery": delivery,
    });
    expect(tampered.status).toBe(401);
    const unsigned = await deliver(body, { "x-github-delivery": delivery });
    expect(unsigned.status).toBe(401);
    expect((await new PullRequestStore(env.DB).forNumber(pr.repositoryId, pr.number!))?.state).toBe("open");
    // None of them claimed the delivery id: the genuine delivery still applies.
    const genuine = await deliver(body, { "x-hub-signature-256": await sign(body), "x-github-delivery": delivery });
    expect(genuine.status).toBe(202);
  });

  it("are refused while the webhook secret is unset", async () => {
    const body = JSON.stringify(examples.opened);
    const response = await deliver(
      body,
      { "x-hub-signature-256": await sign(body), "x-github-delivery": crypto.randomUUID() },
      { GITHUB_WEBHOOK_SECRET: undefined },
    );
    expect(response.status).toBe(503);
  });
});
