-- Slack settings from the dashboard (issue 11, ADR 0009). Append-only.

-- Tokens pasted in Settings → Slack, used when the environment sets no SLACK_BOT_TOKEN. The bot
-- token, signing secret and optional app-level token are sealed together as one JSON value
-- (AES-256-GCM under SECRETS_ENCRYPTION_KEYS, `auth/secrets-cipher.ts`); the rest is what the
-- dashboard may show. One row: a bot token belongs to exactly one workspace.
CREATE TABLE slack_credentials (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  ciphertext       TEXT NOT NULL,
  iv               TEXT NOT NULL,
  key_version      TEXT NOT NULL,
  bot_token_last4  TEXT NOT NULL,
  app_token_last4  TEXT,
  team_id          TEXT NOT NULL,
  team_name        TEXT NOT NULL,
  bot_user_id      TEXT NOT NULL,
  bot_name         TEXT NOT NULL,
  updated_by       TEXT NOT NULL,
  updated_at       INTEGER NOT NULL
);

-- When a thread's repository picker expires: the scheduler updates the picker message then.
ALTER TABLE slack_threads ADD COLUMN picker_expires_at INTEGER;
CREATE INDEX slack_threads_picker_expiry ON slack_threads (picker_expires_at) WHERE pending_prompt IS NOT NULL;

-- A Slack user's preferences set in App Home: the model their sessions from Slack use.
CREATE TABLE slack_user_preferences (
  team_id     TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  model       TEXT,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (team_id, user_id)
);
