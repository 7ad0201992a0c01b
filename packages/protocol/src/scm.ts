import { z } from "zod";
import { Author, CommitSha, Id } from "./common.ts";
import { BranchName } from "./rest.ts";

/**
 * Source control: pull requests (GitHub ones and local "review records"), the git credential
 * helper's REST call, the gateway's git operations on host repositories, and commit attribution.
 */

export const GitPerson = z.object({ name: z.string().min(1).max(200), email: z.string().min(3).max(320) });
export type GitPerson = z.infer<typeof GitPerson>;

/** The domain GitHub keeps private commit addresses in; commits there count for the user. */
export const GITHUB_NOREPLY_DOMAIN = "users.noreply.github.com";

/**
 * Who a commit made for `author`'s prompt is attributed to. GitHub users get their
 * `<id>+<login>@users.noreply.github.com` address, which GitHub links to their account without
 * exposing a private email; everyone else their email, or a stable address under their user id.
 */
export function gitAuthorFor(author: Author): GitPerson {
  if (author.github) return { name: author.name, email: `${author.github.id}+${author.github.login}@${GITHUB_NOREPLY_DOMAIN}` };
  return { name: author.name, email: author.email ?? `${author.userId}@users.lookout.local` };
}

/** The branch a session works on, unless configured otherwise. */
export function sessionBranch(sessionId: string): string {
  return `lookout/${sessionId}`;
}

// ---------------------------------------------------------------- the credential helper's call

/** `POST /api/sessions/:id/git-credentials`: what git asked its credential helper for. */
export const GitCredentialRequest = z.object({
  protocol: z.enum(["http", "https"]),
  host: z.string().min(1).max(255),
  /** The repository path git sends when `credential.useHttpPath` is on (without a leading '/'). */
  path: z.string().max(1024).optional(),
});
export type GitCredentialRequest = z.infer<typeof GitCredentialRequest>;

export const GitCredentialResponse = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  /** Milliseconds since the epoch; git is told, and the helper asks again after it. */
  expiresAt: z.number().int().positive(),
});
export type GitCredentialResponse = z.infer<typeof GitCredentialResponse>;

// ---------------------------------------------------------------- pull requests

export const PullRequestState = z.enum(["open", "merged", "closed"]);
export type PullRequestState = z.infer<typeof PullRequestState>;

export const PullRequestCommit = z.object({
  sha: CommitSha,
  subject: z.string(),
  author: GitPerson,
  committer: GitPerson,
  /** Milliseconds since the epoch. */
  authoredAt: z.number(),
});
export type PullRequestCommit = z.infer<typeof PullRequestCommit>;

export const PullRequestFile = z.object({
  path: z.string().min(1).max(4096),
  change: z.enum(["added", "modified", "deleted", "renamed"]),
  additions: z.number().int().nonnegative().optional(),
  deletions: z.number().int().nonnegative().optional(),
});
export type PullRequestFile = z.infer<typeof PullRequestFile>;

/** What a local pull request shows for review: the branch's commits and its diff against the base. */
export const PullRequestReview = z.object({
  baseSha: CommitSha,
  headSha: CommitSha,
  mergeBaseSha: CommitSha.nullable(),
  commits: z.array(PullRequestCommit),
  files: z.array(PullRequestFile),
  /** Unified diff of the branch against its merge base with the base branch, cut in the middle if huge. */
  diff: z.string(),
  diffTruncated: z.boolean(),
});
export type PullRequestReview = z.infer<typeof PullRequestReview>;

export const PullRequest = z.object({
  id: Id,
  sessionId: Id,
  repositoryId: Id,
  provider: z.enum(["local", "github"]),
  /** GitHub's number; null for local pull requests. */
  number: z.number().int().positive().nullable(),
  /** Where to see it: GitHub's page, or the session's page for local pull requests. */
  url: z.string().nullable(),
  title: z.string(),
  body: z.string(),
  baseBranch: z.string(),
  headBranch: z.string(),
  headSha: CommitSha.nullable(),
  state: PullRequestState,
  draft: z.boolean(),
  /** Who asked for it. */
  openedBy: Author,
  /** On GitHub: opened with the user's own token, or by the App naming them in the body. */
  openedAs: z.enum(["user", "app", "local"]),
  /** Local pull requests only. */
  review: PullRequestReview.nullable(),
  mergeSha: CommitSha.nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  mergedAt: z.number().nullable(),
  closedAt: z.number().nullable(),
});
export type PullRequest = z.infer<typeof PullRequest>;

/** `POST /api/sessions/:id/pull-request`: every field defaults from the session. */
export const CreatePullRequestRequest = z.object({
  title: z.string().trim().min(1).max(256).optional(),
  body: z.string().max(60_000).optional(),
  /** Draft unless the deployment's default says otherwise (`PULL_REQUEST_DRAFT_DEFAULT`). */
  draft: z.boolean().optional(),
});
export type CreatePullRequestRequest = z.infer<typeof CreatePullRequestRequest>;

export const PullRequestResponse = z.object({ pullRequest: PullRequest, created: z.boolean() });

/** `POST /api/sessions/:id/pull-request/merge` (local pull requests). */
export const MergePullRequestRequest = z.object({ message: z.string().trim().min(1).max(10_000).optional() });

/** `POST /api/sessions/:id/push-approvals/:approvalId`. */
export const PushDecisionRequest = z.object({ decision: z.enum(["approve", "reject"]) });

// ---------------------------------------------------------------- the gateway's git operations

/** `POST /v1/git/branches`: branches of a host repository. */
/**
 * `POST /v1/git/check`: whether a host path may be registered as a local repository (a git
 * repository under the gateway's allowed roots); answers its canonical path.
 */
export const GitCheckRequest = z.object({ repositoryPath: z.string().startsWith("/").max(4096) });
export const GitCheckResponse = z.object({ repositoryPath: z.string().startsWith("/") });

export const GitBranchesRequest = z.object({ repositoryPath: z.string().startsWith("/").max(4096) });
export const GitBranchesResponse = z.object({ branches: z.array(z.object({ name: z.string(), sha: CommitSha })) });

/** `POST /v1/git/compare`: the review of `head` against `base` in a host repository. */
export const GitCompareRequest = z.object({
  repositoryPath: z.string().startsWith("/").max(4096),
  base: BranchName,
  head: BranchName,
});
export type GitCompareRequest = z.infer<typeof GitCompareRequest>;
export const GitCompareResponse = PullRequestReview;

/**
 * `POST /v1/git/merge`: merges `head` into `base` in a host repository with a merge commit.
 * `expectedHeadSha` makes the merge apply to what was reviewed: a branch that moved since is a
 * `CONFLICT`, and conflicting changes are `MERGE_CONFLICT` with the conflicted paths.
 */
export const GitMergeRequest = z.object({
  repositoryPath: z.string().startsWith("/").max(4096),
  base: BranchName,
  head: BranchName,
  expectedHeadSha: CommitSha,
  message: z.string().min(1).max(10_000),
  author: GitPerson,
  committer: GitPerson,
});
export type GitMergeRequest = z.infer<typeof GitMergeRequest>;
export const GitMergeResponse = z.object({ mergeSha: CommitSha, baseSha: CommitSha });
export type GitMergeResponse = z.infer<typeof GitMergeResponse>;

// ---------------------------------------------------------------- workflow approvals

/** Paths whose changes may not leave a sandbox without a person's approval. */
export const PROTECTED_PATH_PREFIXES = [".github/workflows/"] as const;

export function isProtectedPath(path: string): boolean {
  return PROTECTED_PATH_PREFIXES.some((prefix) => path.startsWith(prefix));
}
