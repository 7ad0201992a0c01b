import { z } from "zod";
import type { GitHubAppClient } from "../../scm/github/client";

/** Where a comment lives: pull request (issue) comments and review comments have their own endpoints. */
export type CommentKind = "issue" | "review-comment";

export type RepositoryPermission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

/** The pull request a mention is on, as the session needs it. */
export interface MentionedPullRequest {
  number: number;
  title: string;
  headRef: string;
  headSha: string;
  /** `owner/name` the head branch lives in; differs from the base repository for a fork. */
  headRepository: string | null;
  baseRef: string;
  fork: boolean;
}

const PullPayload = z.object({
  number: z.number().int(),
  title: z.string(),
  head: z.object({ ref: z.string(), sha: z.string(), repo: z.object({ full_name: z.string() }).nullable().optional() }),
  base: z.object({ ref: z.string(), repo: z.object({ full_name: z.string() }).optional() }),
});
const Created = z.object({ id: z.number().int().positive() });

/**
 * The GitHub calls a mention needs, on the deployment's App: who the App is (its mention handle),
 * the commenter's permission, the 👀 reaction, the pull request, and the reply comments.
 */
export class GithubMentionApi {
  private slug: Promise<string> | null = null;

  constructor(private readonly client: GitHubAppClient) {}

  /** The App's slug: people mention it as `@<slug>`. Asked once per client. */
  appSlug(): Promise<string> {
    this.slug ??= this.client.asApp(
      async (octokit) => z.object({ slug: z.string().min(1) }).parse((await octokit.request("GET /app")).data).slug,
    );
    const pending = this.slug;
    pending.catch(() => {
      if (this.slug === pending) this.slug = null;
    });
    return pending;
  }

  /** The person's permission on the repository, as GitHub's collaborator permission endpoint reports it. */
  async permission(owner: string, repo: string, login: string): Promise<RepositoryPermission> {
    const data = await this.client.asInstallation(
      async (octokit) =>
        (await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", { owner, repo, username: login })).data,
    );
    const parsed = z.object({ permission: z.string(), role_name: z.string().optional() }).parse(data);
    // `role_name` distinguishes maintain and triage, which `permission` folds into write and read.
    const role = parsed.role_name ?? parsed.permission;
    return (
      (["admin", "maintain", "write", "triage", "read"] as const).find((known) => known === role) ??
      (parsed.permission === "write" ? "write" : "none")
    );
  }

  async react(owner: string, repo: string, kind: CommentKind, commentId: number, content: "eyes"): Promise<void> {
    const route =
      kind === "issue"
        ? "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
        : "POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions";
    await this.client.asInstallation((octokit) => octokit.request(route, { owner, repo, comment_id: commentId, content }));
  }

  async pullRequest(owner: string, repo: string, number: number): Promise<MentionedPullRequest> {
    const data = await this.client.asInstallation(
      async (octokit) =>
        (await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner, repo, pull_number: number })).data,
    );
    const pull = PullPayload.parse(data);
    const base = pull.base.repo?.full_name ?? `${owner}/${repo}`;
    const head = pull.head.repo?.full_name ?? null;
    return {
      number: pull.number,
      title: pull.title,
      headRef: pull.head.ref,
      headSha: pull.head.sha,
      headRepository: head,
      baseRef: pull.base.ref,
      // A deleted fork has no head repository; it is still not this repository.
      fork: head === null || head.toLowerCase() !== base.toLowerCase(),
    };
  }

  /** Posts a comment on the pull request's conversation. */
  async comment(owner: string, repo: string, number: number, body: string): Promise<number> {
    const data = await this.client.asInstallation(
      async (octokit) =>
        (await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner, repo, issue_number: number, body }))
          .data,
    );
    return Created.parse(data).id;
  }

  /** Replies in the review thread of `commentId`. */
  async replyInThread(owner: string, repo: string, number: number, commentId: number, body: string): Promise<number> {
    const data = await this.client.asInstallation(
      async (octokit) =>
        (
          await octokit.request("POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies", {
            owner,
            repo,
            pull_number: number,
            comment_id: commentId,
            body,
          })
        ).data,
    );
    return Created.parse(data).id;
  }

  /** Posts a review (`COMMENT`, never an approval or a change request) with line comments on the new side. */
  async postReview(
    owner: string,
    repo: string,
    number: number,
    review: { body: string; comments: { path: string; line: number; body: string }[] },
  ): Promise<void> {
    await this.client.asInstallation((octokit) =>
      octokit.request("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
        owner,
        repo,
        pull_number: number,
        event: "COMMENT",
        body: review.body,
        comments: review.comments.map((comment) => ({ path: comment.path, line: comment.line, side: "RIGHT", body: comment.body })),
      }),
    );
  }

  async reviewBodies(owner: string, repo: string, number: number): Promise<string[]> {
    const data = await this.client.asInstallation((octokit) =>
      octokit.paginate("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", { owner, repo, pull_number: number, per_page: 100 }),
    );
    return z
      .array(z.object({ body: z.string().nullable().optional() }))
      .parse(data)
      .map((review) => review.body ?? "");
  }

  async editComment(owner: string, repo: string, kind: CommentKind, commentId: number, body: string): Promise<void> {
    if (kind === "issue") {
      await this.client.asInstallation((octokit) =>
        octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { owner, repo, comment_id: commentId, body }),
      );
    } else {
      await this.client.asInstallation((octokit) =>
        octokit.request("PATCH /repos/{owner}/{repo}/pulls/comments/{comment_id}", { owner, repo, comment_id: commentId, body }),
      );
    }
  }
}

const apis = new WeakMap<GitHubAppClient, GithubMentionApi>();

/** One mention API per App client, so the slug is asked once per configuration. */
export function mentionApi(client: GitHubAppClient): GithubMentionApi {
  let api = apis.get(client);
  if (!api) {
    api = new GithubMentionApi(client);
    apis.set(client, api);
  }
  return api;
}
