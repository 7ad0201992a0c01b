-- Slack (issue 11, ADR 0009). Append-only.

-- The workspace the bot token belongs to, as `auth.test` reported it: events from any other team
-- are refused, and Bolt's `authorize` reads this row instead of calling Slack before the ack.
CREATE TABLE slack_workspaces (
  team_id       TEXT PRIMARY KEY,
  team_name     TEXT NOT NULL,
  bot_user_id   TEXT NOT NULL,
  bot_id        TEXT,
  bot_name      TEXT NOT NULL,
  connected_at  INTEGER NOT NULL
);

-- A thread Lookout owns: its session, the repository it works on and the one status message it
-- keeps current (`status_ts`). One thread is one session.
CREATE TABLE slack_threads (
  team_id        TEXT NOT NULL,
  channel_id     TEXT NOT NULL,
  thread_ts      TEXT NOT NULL,
  session_id     TEXT,
  repository_id  TEXT,
  status_ts      TEXT,
  requested_by   TEXT NOT NULL,
  -- The request waiting for someone to pick its repository, and the latest pull request.
  pending_prompt     TEXT,
  pull_request_url   TEXT,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (team_id, channel_id, thread_ts)
);
CREATE INDEX slack_threads_session ON slack_threads (session_id);

-- The repository a channel's mentions use when they name none.
CREATE TABLE slack_channel_defaults (
  team_id        TEXT NOT NULL,
  channel_id     TEXT NOT NULL,
  repository_id  TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (team_id, channel_id)
);

-- Reports already posted to a thread, by the outbox's idempotency key: a report attempted again
-- after its message was posted updates that message instead of posting a second one.
CREATE TABLE slack_posted_reports (
  idempotency_key  TEXT PRIMARY KEY,
  channel_id       TEXT NOT NULL,
  message_ts       TEXT NOT NULL,
  posted_at        INTEGER NOT NULL
);
