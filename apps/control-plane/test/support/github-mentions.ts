import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { app } from "../../src/app";
import { RepositoryStore } from "../../src/db/repositories";
import type { Env } from "../../src/env";
import type { FakeComment, FakePull } from "./fake-github";
import { ORIGIN } from "./auth";

/**
 * Drives the GitHub @mention flow in workerd against the run's fake GitHub (bound as `GITHUB_API`,
 * see `vitest.config.ts`): the App configured through env overrides with the fake's own key,
 * payloads from `@octokit/webhooks-examples` moved onto the test's repository, signed like GitHub.
 */

export const WEBHOOK_SECRET = "test-github-webhook-secret";
export const REPOSITORY = { owner: "acme", name: "widgets" };
export const FORK_OWNER = "outsider";

export interface FakeGitHubState {
  appId: string;
  privateKey: string;
  installationId: number;
  appSlug: string;
  comments: FakeComment[];
  reactions: { kind: string; commentId: number; content: string; auth: string }[];
  requests: { method: string; path: string; auth: string }[];
  minted: { token: string; permissions: Record<string, string>; repositories: string[] | undefined }[];
  reviews: { number: number; event: string; body: string; comments: { path: string; line: number; side?: string; body: string }[] }[];
}

export async function githubState(): Promise<FakeGitHubState> {
  const response = await env.GITHUB_API!.fetch("http://github.fake/__fake/state");
  return response.json<FakeGitHubState>();
}

/** The env that points the App at the fake. */
export async function githubEnv(): Promise<Partial<Env>> {
  const state = await githubState();
  return {
    GITHUB_APP_ID: state.appId,
    GITHUB_APP_PRIVATE_KEY: state.privateKey,
    GITHUB_APP_INSTALLATION_ID: String(state.installationId),
    GITHUB_API_URL: "http://github.fake",
  };
}

export async function registerRepository(): Promise<string> {
  const store = new RepositoryStore(env.DB);
  const found = await store.findGithub(REPOSITORY.owner, REPOSITORY.name);
  return (found ?? (await store.create({ kind: "github", owner: REPOSITORY.owner, name: REPOSITORY.name, defaultBranch: "main" }))).id;
}

let nextPull = 100;
/** A pull request on the fake; a fork's head branch lives in the outsider's repository. */
export async function openPull(options: { fork?: boolean; head?: string } = {}): Promise<FakePull> {
  const number = ++nextPull;
  const pull: Omit<FakePull, "number"> = {
    owner: REPOSITORY.owner,
    repo: REPOSITORY.name,
    head: options.head ?? `feature-${number}`,
    base: "main",
    title: `Add the widget ${number}`,
    body: "",
    draft: false,
    state: "open",
    merged: false,
    user: options.fork ? FORK_OWNER : "author",
    headSha: "b".repeat(40),
    ...(options.fork ? { headRepository: `${FORK_OWNER}/${REPOSITORY.name}` } : {}),
  };
  const response = await env.GITHUB_API!.fetch("http://github.fake/__fake/pulls", { method: "POST", body: JSON.stringify(pull) });
  return response.json<FakePull>();
}

export async function setPermissions(permissions: Record<string, string>): Promise<void> {
  await env.GITHUB_API!.fetch("http://github.fake/__fake/permissions", { method: "POST", body: JSON.stringify(permissions) });
}

type MentionEvent = "issue_comment" | "pull_request_review_comment" | "pull_request_review";

let nextCommentId = 500_000;
let nextUserId = 80_000;
/**
 * The example payload of `event` on pull request `number` of the test repository, by `login`.
 * `issue_comment` gets the `issue.pull_request` member GitHub sends for comments on pull requests.
 */
export function mentionPayload(
  event: MentionEvent,
  options: { number: number; body: string; login: string; userId?: number; userType?: string; action?: string },
): Record<string, any> {
  const examples = JSON.parse(env.TEST_MENTION_EXAMPLES) as Record<MentionEvent, Record<string, any>>;
  const payload = structuredClone(examples[event]);
  payload.repository = {
    ...payload.repository,
    name: REPOSITORY.name,
    full_name: `${REPOSITORY.owner}/${REPOSITORY.name}`,
    owner: { ...payload.repository.owner, login: REPOSITORY.owner },
  };
  const user = { ...payload.sender, login: options.login, id: options.userId ?? ++nextUserId, type: options.userType ?? "User" };
  payload.sender = user;
  if (options.action) payload.action = options.action;
  if (event === "issue_comment") {
    payload.issue = {
      ...payload.issue,
      number: options.number,
      pull_request: { url: `https://api.github.com/repos/acme/widgets/pulls/${options.number}` },
    };
    payload.comment = { ...payload.comment, id: ++nextCommentId, body: options.body, user };
  } else if (event === "pull_request_review_comment") {
    payload.pull_request = { ...payload.pull_request, number: options.number };
    payload.comment = { ...payload.comment, id: ++nextCommentId, body: options.body, user };
  } else {
    payload.pull_request = { ...payload.pull_request, number: options.number };
    payload.review = { ...payload.review, id: ++nextCommentId, body: options.body, user };
  }
  return payload;
}

export async function signature(body: string, secret = WEBHOOK_SECRET): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return `sha256=${[...mac].map((byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Posts a delivery the way GitHub does and waits for the work it deferred (`waitUntil`) to finish,
 * so what the test then reads is everything the delivery did.
 */
export async function deliver(
  event: string,
  payload: unknown,
  options: { deliveryId?: string; signature?: string | null; envOverride?: Partial<Env> } = {},
): Promise<{ status: number; json: any; deliveryId: string }> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const deliveryId = options.deliveryId ?? crypto.randomUUID();
  const headers: Record<string, string> = { "content-type": "application/json", "x-github-event": event, "x-github-delivery": deliveryId };
  const signed = options.signature === undefined ? await signature(body) : options.signature;
  if (signed !== null) headers["x-hub-signature-256"] = signed;
  const ctx = createExecutionContext();
  const response = await app.request(
    `${ORIGIN}/api/webhooks/github`,
    { method: "POST", headers, body },
    { ...env, ...(await githubEnv()), ...options.envOverride },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null, deliveryId };
}

export interface GithubDelivery {
  status: string;
  reason: string | null;
  runId: string | null;
  sessionId: string | null;
}

/** What the trigger core recorded for a GitHub delivery, or null when it recorded nothing. */
export async function recordedDelivery(deliveryId: string): Promise<GithubDelivery | null> {
  const row = await env.DB.prepare(
    `SELECT d.status, d.reason, d.run_id, r.session_id FROM trigger_deliveries d LEFT JOIN trigger_runs r ON r.id = d.run_id
     WHERE d.source = 'github' AND d.delivery_id = ?`,
  )
    .bind(deliveryId)
    .first<{ status: string; reason: string | null; run_id: string | null; session_id: string | null }>();
  return row ? { status: row.status, reason: row.reason, runId: row.run_id, sessionId: row.session_id } : null;
}

/** Comments the App wrote on pull request `number`. */
export async function commentsOn(number: number): Promise<FakeComment[]> {
  return (await githubState()).comments.filter((comment) => comment.number === number);
}
