import { Author, type PullRequest, PullRequestReview, type PullRequestState } from "@lookout/protocol";
import { z } from "zod";

const Row = z.object({
  id: z.string(),
  session_id: z.string(),
  repository_id: z.string(),
  provider: z.enum(["local", "github"]),
  number: z.number().int().nullable(),
  url: z.string().nullable(),
  title: z.string(),
  body: z.string(),
  base_branch: z.string(),
  head_branch: z.string(),
  head_sha: z.string().nullable(),
  state: z.enum(["open", "merged", "closed"]),
  draft: z.number(),
  opened_by_json: z.string(),
  opened_as: z.enum(["user", "app", "local"]),
  review_json: z.string().nullable(),
  merge_sha: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
  merged_at: z.number().nullable(),
  closed_at: z.number().nullable(),
});

const COLUMNS =
  "id, session_id, repository_id, provider, number, url, title, body, base_branch, head_branch, head_sha, state, draft, opened_by_json, opened_as, review_json, merge_sha, created_at, updated_at, merged_at, closed_at";

/** Maps a `pull_requests` row; the one place this table's snake_case meets camelCase. */
function fromRow(row: unknown): PullRequest {
  const r = Row.parse(row);
  return {
    id: r.id,
    sessionId: r.session_id,
    repositoryId: r.repository_id,
    provider: r.provider,
    number: r.number,
    url: r.url,
    title: r.title,
    body: r.body,
    baseBranch: r.base_branch,
    headBranch: r.head_branch,
    headSha: r.head_sha,
    state: r.state,
    draft: r.draft === 1,
    openedBy: Author.parse(JSON.parse(r.opened_by_json)),
    openedAs: r.opened_as,
    review: r.review_json === null ? null : PullRequestReview.parse(JSON.parse(r.review_json)),
    mergeSha: r.merge_sha,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    mergedAt: r.merged_at,
    closedAt: r.closed_at,
  };
}

/** Pull requests in D1, one per (repository, head branch). */
export class PullRequestStore {
  constructor(private readonly db: D1Database) {}

  async forSession(sessionId: string): Promise<PullRequest | null> {
    const row = await this.db
      .prepare(`SELECT ${COLUMNS} FROM pull_requests WHERE session_id = ? ORDER BY created_at DESC LIMIT 1`)
      .bind(sessionId)
      .first();
    return row ? fromRow(row) : null;
  }

  async forBranch(repositoryId: string, headBranch: string): Promise<PullRequest | null> {
    const row = await this.db
      .prepare(`SELECT ${COLUMNS} FROM pull_requests WHERE repository_id = ? AND head_branch = ?`)
      .bind(repositoryId, headBranch)
      .first();
    return row ? fromRow(row) : null;
  }

  async forNumber(repositoryId: string, number: number): Promise<PullRequest | null> {
    const row = await this.db
      .prepare(`SELECT ${COLUMNS} FROM pull_requests WHERE repository_id = ? AND number = ?`)
      .bind(repositoryId, number)
      .first();
    return row ? fromRow(row) : null;
  }

  /** Inserts or replaces the branch's pull request (the branch is the key: one per branch). */
  async upsert(pr: PullRequest): Promise<PullRequest> {
    const row = await this.db
      .prepare(
        `INSERT INTO pull_requests (${COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
         ON CONFLICT (repository_id, head_branch) DO UPDATE SET
           number = excluded.number, url = excluded.url, title = excluded.title, body = excluded.body,
           base_branch = excluded.base_branch, head_sha = excluded.head_sha, state = excluded.state, draft = excluded.draft,
           review_json = excluded.review_json, merge_sha = excluded.merge_sha, updated_at = excluded.updated_at,
           merged_at = excluded.merged_at, closed_at = excluded.closed_at
         RETURNING ${COLUMNS}`,
      )
      .bind(
        pr.id,
        pr.sessionId,
        pr.repositoryId,
        pr.provider,
        pr.number,
        pr.url,
        pr.title,
        pr.body,
        pr.baseBranch,
        pr.headBranch,
        pr.headSha,
        pr.state,
        pr.draft ? 1 : 0,
        JSON.stringify(pr.openedBy),
        pr.openedAs,
        pr.review === null ? null : JSON.stringify(pr.review),
        pr.mergeSha,
        pr.createdAt,
        pr.updatedAt,
        pr.mergedAt,
        pr.closedAt,
      )
      .first();
    return fromRow(row);
  }

  /** Applies a state change reported by the provider; returns the updated row, or null if unknown. */
  async applyState(
    id: string,
    change: { state: PullRequestState; draft?: boolean; headSha?: string | null; title?: string; mergeSha?: string | null },
    now: number,
  ): Promise<PullRequest | null> {
    const row = await this.db
      .prepare(
        `UPDATE pull_requests SET state = ?2, draft = COALESCE(?3, draft), head_sha = COALESCE(?4, head_sha), title = COALESCE(?5, title),
           merge_sha = COALESCE(?6, merge_sha), updated_at = ?7,
           merged_at = CASE WHEN ?2 = 'merged' THEN COALESCE(merged_at, ?7) ELSE NULL END,
           closed_at = CASE WHEN ?2 = 'open' THEN NULL ELSE COALESCE(closed_at, ?7) END
         WHERE id = ?1 RETURNING ${COLUMNS}`,
      )
      .bind(
        id,
        change.state,
        change.draft === undefined ? null : change.draft ? 1 : 0,
        change.headSha ?? null,
        change.title ?? null,
        change.mergeSha ?? null,
        now,
      )
      .first();
    return row ? fromRow(row) : null;
  }
}
