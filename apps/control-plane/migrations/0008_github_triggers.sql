-- GitHub pull request @mentions (ADR 0010). Append-only.

-- Per-repository settings; a repository without a row uses the defaults
-- (enabled, no allowlist, child pull requests, no auto-review).
CREATE TABLE github_trigger_settings (
  repository_id  TEXT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  enabled        INTEGER NOT NULL,
  allowlist      TEXT NOT NULL,
  push_policy    TEXT NOT NULL CHECK (push_policy IN ('child-pull-request', 'direct-push')),
  auto_review    INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);

-- The pull requests Lookout already told, once, that someone without write access cannot ask it
-- for work: the row is claimed before the polite reply is posted, so it is posted at most once.
CREATE TABLE github_trigger_refusals (
  repository    TEXT NOT NULL,
  pull_request  INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (repository, pull_request)
);

-- The reply comment a mention's session posted ("started, here is the session"), edited by the
-- outbox's GitHub sink with the summary and the pull request when the work settles.
CREATE TABLE github_trigger_replies (
  session_id        TEXT PRIMARY KEY,
  repository        TEXT NOT NULL,
  pull_request      INTEGER NOT NULL,
  -- 'issue': a pull request comment; 'review-comment': a reply in a review thread.
  comment_kind      TEXT NOT NULL CHECK (comment_kind IN ('issue', 'review-comment')),
  comment_id        INTEGER NOT NULL,
  status            TEXT NOT NULL,
  summary           TEXT,
  pull_request_url  TEXT,
  fork              INTEGER NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);
