import { DEFAULT_GITHUB_TRIGGER_SETTINGS, GithubTriggerSettings } from "@lookout/protocol";

/** The reply a mention's session posted, and what the sink last wrote into it. */
export interface GithubReply {
  sessionId: string;
  repository: string;
  pullRequest: number;
  commentKind: "issue" | "review-comment";
  commentId: number;
  /** `working`, or how the last prompt settled (`completed`, `failed`, `stopped`). */
  status: string;
  summary: string | null;
  pullRequestUrl: string | null;
  fork: boolean;
}

interface ReplyRow {
  session_id: string;
  repository: string;
  pull_request: number;
  comment_kind: "issue" | "review-comment";
  comment_id: number;
  status: string;
  summary: string | null;
  pull_request_url: string | null;
  fork: number;
}

const MAX_SUMMARY = 20_000;

/** GitHub @mention settings per repository, the once-per-pull-request refusals, and the replies. */
export class GithubTriggerStore {
  constructor(private readonly db: D1Database) {}

  /** The repository's settings, or the defaults (`saved: false`) when none were saved. */
  async settings(repositoryId: string): Promise<{ settings: GithubTriggerSettings; saved: boolean }> {
    const row = await this.db
      .prepare("SELECT enabled, allowlist, push_policy, auto_review FROM github_trigger_settings WHERE repository_id = ?")
      .bind(repositoryId)
      .first<{ enabled: number; allowlist: string; push_policy: string; auto_review: number }>();
    if (!row) return { settings: DEFAULT_GITHUB_TRIGGER_SETTINGS, saved: false };
    const settings = GithubTriggerSettings.parse({
      enabled: row.enabled === 1,
      allowlist: JSON.parse(row.allowlist) as unknown,
      pushPolicy: row.push_policy,
      autoReview: row.auto_review === 1,
    });
    return { settings, saved: true };
  }

  async saveSettings(repositoryId: string, settings: GithubTriggerSettings, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO github_trigger_settings (repository_id, enabled, allowlist, push_policy, auto_review, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (repository_id) DO UPDATE SET enabled = excluded.enabled, allowlist = excluded.allowlist,
           push_policy = excluded.push_policy, auto_review = excluded.auto_review, updated_at = excluded.updated_at`,
      )
      .bind(
        repositoryId,
        settings.enabled ? 1 : 0,
        JSON.stringify(settings.allowlist),
        settings.pushPolicy,
        settings.autoReview ? 1 : 0,
        now,
      )
      .run();
  }

  /** Claims the one refusal reply a pull request gets; false when it was already sent. */
  async claimRefusal(repository: string, pullRequest: number, now: number): Promise<boolean> {
    const result = await this.db
      .prepare("INSERT INTO github_trigger_refusals (repository, pull_request, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
      .bind(repository.toLowerCase(), pullRequest, now)
      .run();
    return result.meta.changes === 1;
  }

  /** Gives a refusal claim back when its reply could not be posted, so the next mention tries again. */
  async releaseRefusal(repository: string, pullRequest: number): Promise<void> {
    await this.db
      .prepare("DELETE FROM github_trigger_refusals WHERE repository = ? AND pull_request = ?")
      .bind(repository.toLowerCase(), pullRequest)
      .run();
  }

  /** Records a session's reply comment; a second record for the same session keeps the first. */
  async recordReply(reply: GithubReply, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO github_trigger_replies
           (session_id, repository, pull_request, comment_kind, comment_id, status, summary, pull_request_url, fork, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) ON CONFLICT (session_id) DO NOTHING`,
      )
      .bind(
        reply.sessionId,
        reply.repository,
        reply.pullRequest,
        reply.commentKind,
        reply.commentId,
        reply.status,
        reply.summary,
        reply.pullRequestUrl,
        reply.fork ? 1 : 0,
        now,
      )
      .run();
  }

  async reply(sessionId: string): Promise<GithubReply | null> {
    const row = await this.db.prepare("SELECT * FROM github_trigger_replies WHERE session_id = ?").bind(sessionId).first<ReplyRow>();
    return row
      ? {
          sessionId: row.session_id,
          repository: row.repository,
          pullRequest: row.pull_request,
          commentKind: row.comment_kind,
          commentId: row.comment_id,
          status: row.status,
          summary: row.summary,
          pullRequestUrl: row.pull_request_url,
          fork: row.fork === 1,
        }
      : null;
  }

  /** Writes what the reply should now say; the sink then edits the comment to match. */
  async updateReply(
    sessionId: string,
    change: { status: string; summary: string | null } | { pullRequestUrl: string },
    now: number,
  ): Promise<void> {
    if ("pullRequestUrl" in change) {
      await this.db
        .prepare("UPDATE github_trigger_replies SET pull_request_url = ?2, updated_at = ?3 WHERE session_id = ?1")
        .bind(sessionId, change.pullRequestUrl, now)
        .run();
      return;
    }
    await this.db
      .prepare("UPDATE github_trigger_replies SET status = ?2, summary = ?3, updated_at = ?4 WHERE session_id = ?1")
      .bind(sessionId, change.status, change.summary?.slice(0, MAX_SUMMARY) ?? null, now)
      .run();
  }
}
