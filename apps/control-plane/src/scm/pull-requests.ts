import {
  type ArtifactEvent,
  type Author,
  type CreatePullRequestRequest,
  LookoutError,
  type PullRequest,
  type PullRequestState,
  type SessionEvent,
} from "@lookout/protocol";
import { RepositoryStore } from "../db/repositories";
import { PullRequestStore } from "../db/pull-requests";
import { UserTokenStore } from "../db/user-tokens";
import type { Env } from "../env";
import { newId } from "../session/ids";
import type { ScmContext } from "../session/session-core";
import type { SessionRecord } from "../session/session-store";
import { LocalScmProvider, providerFor } from "./providers";

/** What the pull-request service needs from a session's Durable Object. */
export interface SessionScmPort {
  scmContext(): Promise<ScmContext>;
  events(): Promise<SessionEvent[]>;
  recordArtifact(artifact: ArtifactEvent): Promise<void>;
}

/** A token this close to expiry is not used; the App opens the pull request instead. */
const TOKEN_EXPIRY_MARGIN_MS = 60_000;
const MAX_BODY_PROMPTS = 20;

/** The session's page in the dashboard: every pull request links back to it. */
export function sessionUrl(env: Env, sessionId: string): string {
  return `${env.PUBLIC_URL.replace(/\/+$/, "")}/sessions/${sessionId}`;
}

/** The `artifact` event that shows a pull request in the session (one evolving row per pull request). */
export function pullRequestArtifact(pr: PullRequest): ArtifactEvent {
  return {
    type: "artifact",
    artifactId: pr.id,
    kind: "pull_request",
    title: pr.title,
    ...(pr.url ? { url: pr.url } : {}),
    data: {
      provider: pr.provider,
      number: pr.number,
      state: pr.state,
      draft: pr.draft,
      baseBranch: pr.baseBranch,
      headBranch: pr.headBranch,
      headSha: pr.headSha,
      openedAs: pr.openedAs,
      openedBy: pr.openedBy,
      commits: pr.review?.commits.length ?? null,
      files: pr.review?.files.length ?? null,
      mergeSha: pr.mergeSha,
    },
  };
}

/** Opens the session branch's pull request, or updates the open one; records it in D1 and the session. */
export async function openPullRequest(
  env: Env,
  session: SessionScmPort,
  requester: Author,
  input: CreatePullRequestRequest,
  now: number = Date.now(),
): Promise<{ pullRequest: PullRequest; created: boolean }> {
  const context = await session.scmContext();
  const record = context.session;
  const repository = await new RepositoryStore(env.DB).getOrThrow(record.repository.id);
  const store = new PullRequestStore(env.DB);
  const existing = await store.forBranch(repository.id, record.branch);
  const url = sessionUrl(env, record.id);
  const title = input.title ?? existing?.title ?? record.title;
  const body = input.body ?? composeBody(record, await session.events(), url);
  const pr = await providerFor(env, repository).openOrUpdatePullRequest({
    id: newId("pr", now),
    repository,
    session: record,
    title,
    body,
    draft: input.draft ?? existing?.draft ?? env.PULL_REQUEST_DRAFT_DEFAULT !== "false",
    requester,
    userToken: repository.kind === "github" ? await userGithubToken(env, requester, now) : null,
    existing,
    sessionUrl: url,
    now,
  });
  const saved = await store.upsert(pr);
  await session.recordArtifact(pullRequestArtifact(saved));
  return { pullRequest: saved, created: existing === null };
}

/** After the bridge pushed: the open pull request follows the branch (a local review is recomputed). */
export async function refreshAfterPush(
  env: Env,
  session: SessionRecord,
  headSha: string,
  now: number = Date.now(),
): Promise<ArtifactEvent | null> {
  const repository = await new RepositoryStore(env.DB).get(session.repository.id);
  if (!repository) return null;
  const store = new PullRequestStore(env.DB);
  const existing = await store.forBranch(repository.id, session.branch);
  if (!existing) return null;
  const next = await providerFor(env, repository).afterPush(repository, existing, headSha, now);
  if (!next) return null;
  return pullRequestArtifact(await store.upsert(next));
}

/** Merges a local pull request into its base in the host repository. */
export async function mergeLocalPullRequest(
  env: Env,
  session: SessionScmPort,
  by: Author,
  message: string | undefined,
  now: number = Date.now(),
): Promise<PullRequest> {
  const { session: record } = await session.scmContext();
  const repository = await new RepositoryStore(env.DB).getOrThrow(record.repository.id);
  const store = new PullRequestStore(env.DB);
  const existing = await store.forBranch(repository.id, record.branch);
  if (!existing) throw new LookoutError("PULL_REQUEST_NOT_FOUND");
  if (repository.kind !== "local") throw new LookoutError("UNSUPPORTED", "GitHub pull requests are merged on GitHub.");
  const merged = await new LocalScmProvider(env).merge(
    repository,
    existing,
    by,
    message ?? `Merge ${existing.headBranch}: ${existing.title}`,
    now,
  );
  const saved = await store.upsert(merged);
  await session.recordArtifact(pullRequestArtifact(saved));
  return saved;
}

/** Applies a state GitHub reported; returns the updated pull request, or null if Lookout does not know it. */
export async function applyGithubPullRequestState(
  env: Env,
  change: { owner: string; name: string; number: number; state: PullRequestState; draft: boolean; headSha: string; title: string },
  now: number = Date.now(),
): Promise<PullRequest | null> {
  const repository = await new RepositoryStore(env.DB).findGithub(change.owner, change.name);
  if (!repository) return null;
  const store = new PullRequestStore(env.DB);
  const existing = await store.forNumber(repository.id, change.number);
  if (!existing) return null;
  return store.applyState(existing.id, { state: change.state, draft: change.draft, headSha: change.headSha, title: change.title }, now);
}

async function userGithubToken(env: Env, requester: Author, now: number): Promise<string | null> {
  if (!requester.github) return null;
  const token = await new UserTokenStore(env.DB, env.SECRETS_ENCRYPTION_KEYS).get(requester.userId, "github").catch(() => null);
  if (!token) return null;
  if (token.expiresAt !== null && token.expiresAt - TOKEN_EXPIRY_MARGIN_MS <= now) return null;
  return token.accessToken;
}

/** The default body: what was asked, by whom, and a link back to the session. */
export function composeBody(session: SessionRecord, events: readonly SessionEvent[], url: string): string {
  const prompts = events.flatMap((event) => (event.payload.type === "prompt.queued" ? [event.payload] : []));
  const lines = prompts.slice(0, MAX_BODY_PROMPTS).map((prompt) => {
    const first =
      prompt.text
        .split("\n")
        .find((line) => line.trim().length > 0)
        ?.trim() ?? "";
    const short = first.length > 120 ? `${first.slice(0, 119)}…` : first;
    return `- ${short} (${prompt.author.name})`;
  });
  if (prompts.length > MAX_BODY_PROMPTS) lines.push(`- … and ${prompts.length - MAX_BODY_PROMPTS} more`);
  return [
    `${session.title}`,
    "",
    lines.length > 0 ? "Prompts in this session:" : "No prompts yet.",
    ...lines,
    "",
    `---`,
    `Made with Lookout: [open the session](${url}) to see every step the agent took.`,
  ].join("\n");
}
