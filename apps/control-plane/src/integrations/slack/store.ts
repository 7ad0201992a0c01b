/**
 * D1 rows the Slack integration keeps (migrations `0007_slack.sql`, `0010_slack_credentials.sql`):
 * the connected workspace, the threads Lookout owns (with their pickers' expiry), channel default
 * repositories, each person's App Home preferences and reports already posted.
 */

export interface SlackWorkspace {
  teamId: string;
  teamName: string;
  botUserId: string;
  botId: string | null;
  botName: string;
  connectedAt: number;
}

export interface SlackThread {
  teamId: string;
  channelId: string;
  threadTs: string;
  sessionId: string | null;
  repositoryId: string | null;
  statusTs: string | null;
  requestedBy: string;
  /** The request waiting for a repository choice (the picker), if any. */
  pendingPrompt: string | null;
  pullRequestUrl: string | null;
}

export interface ThreadKey {
  teamId: string;
  channelId: string;
  threadTs: string;
}

export interface ChannelDefault {
  teamId: string;
  channelId: string;
  repositoryId: string;
  updatedAt: number;
}

interface WorkspaceRow {
  team_id: string;
  team_name: string;
  bot_user_id: string;
  bot_id: string | null;
  bot_name: string;
  connected_at: number;
}

interface ThreadRow {
  team_id: string;
  channel_id: string;
  thread_ts: string;
  session_id: string | null;
  repository_id: string | null;
  status_ts: string | null;
  requested_by: string;
  pending_prompt: string | null;
  pull_request_url: string | null;
}

export class SlackStore {
  constructor(private readonly db: D1Database) {}

  async workspace(teamId: string): Promise<SlackWorkspace | null> {
    const row = await this.db.prepare("SELECT * FROM slack_workspaces WHERE team_id = ?").bind(teamId).first<WorkspaceRow>();
    return row ? workspaceOf(row) : null;
  }

  /** The connected workspace (a bot token belongs to exactly one). */
  async anyWorkspace(): Promise<SlackWorkspace | null> {
    const row = await this.db.prepare("SELECT * FROM slack_workspaces ORDER BY connected_at DESC LIMIT 1").first<WorkspaceRow>();
    return row ? workspaceOf(row) : null;
  }

  async saveWorkspace(workspace: SlackWorkspace): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO slack_workspaces (team_id, team_name, bot_user_id, bot_id, bot_name, connected_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (team_id) DO UPDATE SET team_name = excluded.team_name, bot_user_id = excluded.bot_user_id,
           bot_id = excluded.bot_id, bot_name = excluded.bot_name, connected_at = excluded.connected_at`,
      )
      .bind(workspace.teamId, workspace.teamName, workspace.botUserId, workspace.botId, workspace.botName, workspace.connectedAt)
      .run();
  }

  /** Forgets every workspace but `teamId`: tokens for another workspace were stored, and its events are refused from now on. */
  async forgetWorkspacesOtherThan(teamId: string): Promise<void> {
    await this.db.prepare("DELETE FROM slack_workspaces WHERE team_id != ?").bind(teamId).run();
  }

  async thread(key: ThreadKey): Promise<SlackThread | null> {
    const row = await this.db
      .prepare("SELECT * FROM slack_threads WHERE team_id = ? AND channel_id = ? AND thread_ts = ?")
      .bind(key.teamId, key.channelId, key.threadTs)
      .first<ThreadRow>();
    return row ? threadOf(row) : null;
  }

  /** Claims a thread for its first request; false when another request owns it already. */
  async claimThread(key: ThreadKey, requestedBy: string, now: number): Promise<boolean> {
    const result = await this.db
      .prepare(
        `INSERT INTO slack_threads (team_id, channel_id, thread_ts, requested_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT DO NOTHING`,
      )
      .bind(key.teamId, key.channelId, key.threadTs, requestedBy, now)
      .run();
    return result.meta.changes === 1;
  }

  /** Sets the given fields; a field left out keeps its value. */
  async updateThread(
    key: ThreadKey,
    fields: Partial<Pick<SlackThread, "sessionId" | "repositoryId" | "statusTs" | "pullRequestUrl">>,
    now: number,
  ): Promise<void> {
    await this.db
      .prepare(
        `UPDATE slack_threads SET session_id = COALESCE(?4, session_id), repository_id = COALESCE(?5, repository_id),
           status_ts = COALESCE(?6, status_ts), pull_request_url = COALESCE(?7, pull_request_url), updated_at = ?8
         WHERE team_id = ?1 AND channel_id = ?2 AND thread_ts = ?3`,
      )
      .bind(
        key.teamId,
        key.channelId,
        key.threadTs,
        fields.sessionId ?? null,
        fields.repositoryId ?? null,
        fields.statusTs ?? null,
        fields.pullRequestUrl ?? null,
        now,
      )
      .run();
  }

  /**
   * Parks a request until someone picks its repository, or clears it (`prompt` null). The picker
   * expires at `expiresAt`, when the scheduler replaces it (`picker-expiry.ts`).
   */
  async setPendingPrompt(key: ThreadKey, prompt: string | null, now: number, expiresAt: number | null): Promise<void> {
    await this.db
      .prepare(
        `UPDATE slack_threads SET pending_prompt = ?4, picker_expires_at = ?5, updated_at = ?6
         WHERE team_id = ?1 AND channel_id = ?2 AND thread_ts = ?3`,
      )
      .bind(key.teamId, key.channelId, key.threadTs, prompt, prompt === null ? null : expiresAt, now)
      .run();
  }

  /**
   * Takes the parked request, once: of two picks at the same time only one clears it and gets it.
   * A request parked before pickers had an expiry expires `legacyTimeoutMs` after its thread began.
   */
  async takePendingPrompt(key: ThreadKey, now: number, legacyTimeoutMs: number): Promise<{ prompt: string; expiresAt: number } | null> {
    const row = await this.db
      .prepare(
        `SELECT pending_prompt, COALESCE(picker_expires_at, created_at + ?4) AS expires_at FROM slack_threads
         WHERE team_id = ?1 AND channel_id = ?2 AND thread_ts = ?3 AND pending_prompt IS NOT NULL`,
      )
      .bind(key.teamId, key.channelId, key.threadTs, legacyTimeoutMs)
      .first<{ pending_prompt: string; expires_at: number }>();
    if (!row) return null;
    const taken = await this.db
      .prepare(
        `UPDATE slack_threads SET pending_prompt = NULL, updated_at = ?5
         WHERE team_id = ?1 AND channel_id = ?2 AND thread_ts = ?3 AND pending_prompt = ?4`,
      )
      .bind(key.teamId, key.channelId, key.threadTs, row.pending_prompt, now)
      .run();
    return taken.meta.changes === 1 ? { prompt: row.pending_prompt, expiresAt: row.expires_at } : null;
  }

  /** Threads whose picker is still waiting at `now` but expired. */
  async expiredPickers(now: number, limit: number): Promise<SlackThread[]> {
    const { results } = await this.db
      .prepare(
        `SELECT * FROM slack_threads WHERE pending_prompt IS NOT NULL AND picker_expires_at <= ?
         ORDER BY picker_expires_at LIMIT ?`,
      )
      .bind(now, limit)
      .all<ThreadRow>();
    return results.map(threadOf);
  }

  /**
   * Drops an expired picker's request, once: false when a pick took it first (or it was parked
   * again since, with a later expiry).
   */
  async expirePicker(key: ThreadKey, now: number): Promise<boolean> {
    const result = await this.db
      .prepare(
        `UPDATE slack_threads SET pending_prompt = NULL, updated_at = ?4
         WHERE team_id = ?1 AND channel_id = ?2 AND thread_ts = ?3 AND pending_prompt IS NOT NULL AND picker_expires_at <= ?4`,
      )
      .bind(key.teamId, key.channelId, key.threadTs, now)
      .run();
    return result.meta.changes === 1;
  }

  /** When the earliest waiting picker expires, for the scheduler's alarm. */
  async nextPickerExpiry(): Promise<number | null> {
    const row = await this.db
      .prepare("SELECT MIN(picker_expires_at) AS at FROM slack_threads WHERE pending_prompt IS NOT NULL")
      .first<{ at: number | null }>();
    return row?.at ?? null;
  }

  async threadOfSession(sessionId: string): Promise<SlackThread | null> {
    const row = await this.db.prepare("SELECT * FROM slack_threads WHERE session_id = ? LIMIT 1").bind(sessionId).first<ThreadRow>();
    return row ? threadOf(row) : null;
  }

  async threadsRequestedBy(teamId: string, userId: string, limit: number): Promise<SlackThread[]> {
    const { results } = await this.db
      .prepare(
        "SELECT * FROM slack_threads WHERE team_id = ? AND requested_by = ? AND session_id IS NOT NULL ORDER BY created_at DESC LIMIT ?",
      )
      .bind(teamId, userId, limit)
      .all<ThreadRow>();
    return results.map(threadOf);
  }

  async channelDefault(teamId: string, channelId: string): Promise<string | null> {
    const row = await this.db
      .prepare("SELECT repository_id FROM slack_channel_defaults WHERE team_id = ? AND channel_id = ?")
      .bind(teamId, channelId)
      .first<{ repository_id: string }>();
    return row?.repository_id ?? null;
  }

  async setChannelDefault(value: ChannelDefault): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO slack_channel_defaults (team_id, channel_id, repository_id, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (team_id, channel_id) DO UPDATE SET repository_id = excluded.repository_id, updated_at = excluded.updated_at`,
      )
      .bind(value.teamId, value.channelId, value.repositoryId, value.updatedAt)
      .run();
  }

  async channelDefaults(): Promise<ChannelDefault[]> {
    const { results } = await this.db
      .prepare("SELECT team_id, channel_id, repository_id, updated_at FROM slack_channel_defaults ORDER BY team_id, channel_id")
      .all<{ team_id: string; channel_id: string; repository_id: string; updated_at: number }>();
    return results.map((r) => ({ teamId: r.team_id, channelId: r.channel_id, repositoryId: r.repository_id, updatedAt: r.updated_at }));
  }

  /** The model a Slack user chose in App Home for the sessions they start from Slack, if any. */
  async preferredModel(teamId: string, userId: string): Promise<string | null> {
    const row = await this.db
      .prepare("SELECT model FROM slack_user_preferences WHERE team_id = ? AND user_id = ?")
      .bind(teamId, userId)
      .first<{ model: string | null }>();
    return row?.model ?? null;
  }

  async setPreferredModel(teamId: string, userId: string, model: string, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO slack_user_preferences (team_id, user_id, model, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (team_id, user_id) DO UPDATE SET model = excluded.model, updated_at = excluded.updated_at`,
      )
      .bind(teamId, userId, model, now)
      .run();
  }

  async postedReport(idempotencyKey: string): Promise<{ channelId: string; messageTs: string } | null> {
    const row = await this.db
      .prepare("SELECT channel_id, message_ts FROM slack_posted_reports WHERE idempotency_key = ?")
      .bind(idempotencyKey)
      .first<{ channel_id: string; message_ts: string }>();
    return row ? { channelId: row.channel_id, messageTs: row.message_ts } : null;
  }

  async recordPostedReport(idempotencyKey: string, channelId: string, messageTs: string, now: number): Promise<void> {
    await this.db
      .prepare(
        "INSERT INTO slack_posted_reports (idempotency_key, channel_id, message_ts, posted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      )
      .bind(idempotencyKey, channelId, messageTs, now)
      .run();
  }
}

function workspaceOf(row: WorkspaceRow): SlackWorkspace {
  return {
    teamId: row.team_id,
    teamName: row.team_name,
    botUserId: row.bot_user_id,
    botId: row.bot_id,
    botName: row.bot_name,
    connectedAt: row.connected_at,
  };
}

function threadOf(row: ThreadRow): SlackThread {
  return {
    teamId: row.team_id,
    channelId: row.channel_id,
    threadTs: row.thread_ts,
    sessionId: row.session_id,
    repositoryId: row.repository_id,
    statusTs: row.status_ts,
    requestedBy: row.requested_by,
    pendingPrompt: row.pending_prompt,
    pullRequestUrl: row.pull_request_url,
  };
}
