-- Source control: pull requests, webhook deliveries, and users' own GitHub tokens. Append-only.

-- One pull request per session branch. GitHub ones mirror GitHub (kept current by webhooks); local
-- ones are the review record itself: the branch pushed to the host repository plus its review.
CREATE TABLE pull_requests (
  id              TEXT PRIMARY KEY,
  session_id      TEXT NOT NULL,
  repository_id   TEXT NOT NULL REFERENCES repositories(id),
  provider        TEXT NOT NULL CHECK (provider IN ('local', 'github')),
  number          INTEGER,
  url             TEXT,
  title           TEXT NOT NULL,
  body            TEXT NOT NULL,
  base_branch     TEXT NOT NULL,
  head_branch     TEXT NOT NULL,
  head_sha        TEXT,
  state           TEXT NOT NULL CHECK (state IN ('open', 'merged', 'closed')),
  draft           INTEGER NOT NULL DEFAULT 1,
  opened_by_json  TEXT NOT NULL,
  opened_as       TEXT NOT NULL CHECK (opened_as IN ('user', 'app', 'local')),
  -- Local pull requests: JSON PullRequestReview (commits, files, diff).
  review_json     TEXT,
  merge_sha       TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  merged_at       INTEGER,
  closed_at       INTEGER
);
CREATE UNIQUE INDEX pull_requests_branch ON pull_requests(repository_id, head_branch);
CREATE UNIQUE INDEX pull_requests_number ON pull_requests(repository_id, number) WHERE number IS NOT NULL;
CREATE INDEX pull_requests_session ON pull_requests(session_id);

-- Webhook deliveries already handled, by their sender's delivery id, so a replay changes nothing.
CREATE TABLE webhook_deliveries (
  source       TEXT NOT NULL,
  delivery_id  TEXT NOT NULL,
  event        TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  PRIMARY KEY (source, delivery_id)
);

-- A user's own token at a provider (GitHub sign-in), sealed like secrets: AES-256-GCM under a
-- versioned key, bound to the user and the provider as additional authenticated data.
CREATE TABLE user_tokens (
  user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider            TEXT NOT NULL,
  ciphertext          TEXT NOT NULL,
  iv                  TEXT NOT NULL,
  key_version         TEXT NOT NULL,
  refresh_ciphertext  TEXT,
  refresh_iv          TEXT,
  expires_at          INTEGER,
  refresh_expires_at  INTEGER,
  scopes              TEXT NOT NULL DEFAULT '',
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  PRIMARY KEY (user_id, provider)
);
