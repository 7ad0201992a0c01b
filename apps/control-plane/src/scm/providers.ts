import {
  type Author,
  GIT_CREDENTIAL_TTL_MS,
  GIT_CREDENTIAL_USERNAME,
  type GitCredentialRequest,
  type GitCredentialResponse,
  isReadOnlyOrigin,
  localRepositoryPath,
  LookoutError,
  mintGitCredential,
  type PullRequest,
  UPLINK,
} from "@lookout/protocol";
import type { RepositoryRecord } from "../db/repositories";
import type { Env } from "../env";
import type { SessionRecord } from "../session/session-store";
import { GatewayGit } from "./gateway-git";
import { githubClient } from "./github/settings";

/**
 * The source-control provider interface: branches, short-lived git credentials for a session's
 * sandbox, and the session branch's pull request. `local` (host repositories through the sandbox
 * gateway) and `github` (a GitHub App) implement it; GitLab or Bitbucket would be two more.
 */
export interface ScmProvider {
  readonly kind: RepositoryRecord["kind"];
  listBranches(repository: RepositoryRecord): Promise<{ name: string; sha: string }[]>;
  gitCredential(input: CredentialInput): Promise<GitCredentialResponse>;
  /** Opens the branch's pull request or updates the open one; returns the record to store. */
  openOrUpdatePullRequest(input: PullRequestInput): Promise<PullRequest>;
  /** The stored pull request after the branch moved to `headSha`, or null when nothing changes. */
  afterPush(repository: RepositoryRecord, pullRequest: PullRequest, headSha: string, now: number): Promise<PullRequest | null>;
}

export interface CredentialInput {
  repository: RepositoryRecord;
  session: Pick<SessionRecord, "id" | "branch" | "origin">;
  request: GitCredentialRequest;
  /** A commit a participant approved although it changes workflows. */
  approvedWorkflowSha: string | null;
  now: number;
}

export interface PullRequestInput {
  id: string;
  repository: RepositoryRecord;
  session: Pick<SessionRecord, "id" | "branch" | "baseBranch">;
  title: string;
  body: string;
  draft: boolean;
  requester: Author;
  /** The requester's own token at the provider, if they signed in with it. */
  userToken: string | null;
  existing: PullRequest | null;
  sessionUrl: string;
  now: number;
}

export function providerFor(env: Env, repository: RepositoryRecord): ScmProvider {
  return repository.kind === "local" ? new LocalScmProvider(env) : new GitHubScmProvider(env);
}

/** The path part of a credential request, as git sends it with `credential.useHttpPath`. */
function requestedPath(request: GitCredentialRequest): string | null {
  return request.path ? request.path.replace(/^\/+/, "").replace(/\/+$/, "") : null;
}

/**
 * Local repositories: served by the sandbox gateway at `/git/<session>.git`, with credentials this
 * control plane signs for exactly one session, repository and branch; a pull request is the pushed
 * branch plus a review record the gateway computes.
 */
export class LocalScmProvider implements ScmProvider {
  readonly kind = "local" as const;
  private readonly gateway: GatewayGit;

  constructor(private readonly env: Env) {
    this.gateway = GatewayGit.fromEnv(env);
  }

  listBranches(repository: RepositoryRecord): Promise<{ name: string; sha: string }[]> {
    return this.gateway.branches(localPath(repository));
  }

  async gitCredential(input: CredentialInput): Promise<GitCredentialResponse> {
    // Sandboxes with their own network reach the gateway through their relay, at the uplink's URL.
    const gatewayHosts = [new URL(this.env.GATEWAY_PUBLIC_URL ?? this.env.GATEWAY_URL).host, new URL(UPLINK.url).host];
    if (!gatewayHosts.includes(input.request.host))
      throw new LookoutError(
        "FORBIDDEN",
        `This session's repository is served by ${gatewayHosts.join(" or ")}, not ${input.request.host}.`,
      );
    const path = requestedPath(input.request);
    if (path !== null && path !== localRepositoryPath(input.session.id))
      throw new LookoutError("FORBIDDEN", "Credentials are only issued for this session's repository.");
    const expiresAt = input.now + GIT_CREDENTIAL_TTL_MS;
    const password = await mintGitCredential(this.env.GIT_CREDENTIAL_SECRET, {
      sid: input.session.id,
      repo: localPath(input.repository),
      ref: `refs/heads/${input.session.branch}`,
      exp: expiresAt,
      ...(input.approvedWorkflowSha ? { workflowSha: input.approvedWorkflowSha } : {}),
    });
    return { username: GIT_CREDENTIAL_USERNAME, password, expiresAt };
  }

  async openOrUpdatePullRequest(input: PullRequestInput): Promise<PullRequest> {
    if (input.existing && input.existing.state !== "open")
      throw new LookoutError("PULL_REQUEST_CLOSED", `The pull request for ${input.session.branch} is already ${input.existing.state}.`);
    const review = await this.gateway.compare({
      repositoryPath: localPath(input.repository),
      base: input.session.baseBranch,
      head: input.session.branch,
    });
    return {
      id: input.existing?.id ?? input.id,
      sessionId: input.session.id,
      repositoryId: input.repository.id,
      provider: "local",
      number: null,
      url: input.sessionUrl,
      title: input.title,
      body: input.body,
      baseBranch: input.session.baseBranch,
      headBranch: input.session.branch,
      headSha: review.headSha,
      state: "open",
      draft: input.draft,
      openedBy: input.existing?.openedBy ?? input.requester,
      openedAs: "local",
      review,
      mergeSha: null,
      createdAt: input.existing?.createdAt ?? input.now,
      updatedAt: input.now,
      mergedAt: null,
      closedAt: null,
    };
  }

  async afterPush(repository: RepositoryRecord, pullRequest: PullRequest, _headSha: string, now: number): Promise<PullRequest | null> {
    if (pullRequest.state !== "open") return null;
    const review = await this.gateway.compare({
      repositoryPath: localPath(repository),
      base: pullRequest.baseBranch,
      head: pullRequest.headBranch,
    });
    return { ...pullRequest, review, headSha: review.headSha, updatedAt: now };
  }

  /** Merges the reviewed head into the base in the host repository. */
  async merge(repository: RepositoryRecord, pullRequest: PullRequest, by: Author, message: string, now: number): Promise<PullRequest> {
    if (pullRequest.state !== "open") throw new LookoutError("PULL_REQUEST_CLOSED");
    if (!pullRequest.headSha) throw new LookoutError("BRANCH_NOT_PUSHED");
    const merged = await this.gateway.merge({
      repositoryPath: localPath(repository),
      base: pullRequest.baseBranch,
      head: pullRequest.headBranch,
      expectedHeadSha: pullRequest.headSha,
      message,
      author: { name: by.name, email: by.email ?? `${by.userId}@users.lookout.local` },
      committer: LOOKOUT_COMMITTER,
    });
    return { ...pullRequest, state: "merged", mergeSha: merged.mergeSha, mergedAt: now, closedAt: now, updatedAt: now };
  }
}

/** The identity Lookout commits and merges as; the people who asked are the authors. */
export const LOOKOUT_COMMITTER = { name: "Lookout", email: "bot@lookout.local" } as const;

/** GitHub through the deployment's GitHub App. */
export class GitHubScmProvider implements ScmProvider {
  readonly kind = "github" as const;

  constructor(private readonly env: Env) {}

  listBranches(repository: RepositoryRecord): Promise<{ name: string; sha: string }[]> {
    return githubClient(this.env).listBranches(ownerOf(repository), repository.name);
  }

  async gitCredential(input: CredentialInput): Promise<GitCredentialResponse> {
    const client = githubClient(this.env);
    const web = new URL(client.settings.webUrl);
    if (`${input.request.protocol}:` !== web.protocol || input.request.host.toLowerCase() !== web.host) {
      throw new LookoutError("FORBIDDEN", `Credentials are only issued for ${web.origin}.`);
    }
    const path = requestedPath(input.request)?.replace(/\.git$/, "");
    // An Enterprise Server may serve git under a path prefix of its web URL.
    const prefix = web.pathname.replace(/^\/+|\/+$/g, "");
    const expected = prefix ? `${prefix}/${input.repository.fullName}` : input.repository.fullName;
    if (path !== undefined && path.toLowerCase() !== expected.toLowerCase()) {
      throw new LookoutError("FORBIDDEN", "Credentials are only issued for this session's repository.");
    }
    const token = await client.installationToken(
      { name: input.repository.name },
      // A fork's pull request, or an auto-review, gets a token that can fetch but never push.
      { workflows: input.approvedWorkflowSha !== null, readOnly: isReadOnlyOrigin(input.session.origin) },
    );
    return { username: "x-access-token", password: token.token, expiresAt: token.expiresAt };
  }

  async openOrUpdatePullRequest(input: PullRequestInput): Promise<PullRequest> {
    const pull = await githubClient(this.env).openOrUpdatePullRequest({
      owner: ownerOf(input.repository),
      name: input.repository.name,
      base: input.session.baseBranch,
      head: input.session.branch,
      title: input.title,
      body: input.body,
      draft: input.draft,
      userToken: input.userToken,
      requester: input.requester,
      knownNumber: input.existing?.number ?? null,
    });
    return {
      id: input.existing?.id ?? input.id,
      sessionId: input.session.id,
      repositoryId: input.repository.id,
      provider: "github",
      number: pull.number,
      url: pull.url,
      title: pull.title,
      body: pull.body,
      baseBranch: input.session.baseBranch,
      headBranch: input.session.branch,
      headSha: pull.headSha,
      state: pull.state,
      draft: pull.draft,
      openedBy: input.existing && !pull.created ? input.existing.openedBy : input.requester,
      openedAs: input.existing && !pull.created ? input.existing.openedAs : pull.openedAs,
      review: null,
      mergeSha: null,
      createdAt: input.existing?.createdAt ?? input.now,
      updatedAt: input.now,
      mergedAt: pull.state === "merged" ? input.now : null,
      closedAt: pull.state === "open" ? null : input.now,
    };
  }

  afterPush(_repository: RepositoryRecord, pullRequest: PullRequest, headSha: string, now: number): Promise<PullRequest | null> {
    // GitHub moves the pull request with the branch; the record follows (webhooks confirm it).
    if (pullRequest.state !== "open" || pullRequest.headSha === headSha) return Promise.resolve(null);
    return Promise.resolve({ ...pullRequest, headSha, updatedAt: now });
  }
}

function localPath(repository: RepositoryRecord): string {
  if (repository.kind !== "local" || !repository.path) throw new LookoutError("INTERNAL", "A local repository without a path.");
  return repository.path;
}

function ownerOf(repository: RepositoryRecord): string {
  if (!repository.owner) throw new LookoutError("INTERNAL", "A GitHub repository without an owner.");
  return repository.owner;
}
