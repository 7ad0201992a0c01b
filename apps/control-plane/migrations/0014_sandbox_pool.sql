-- The warm pool's size per repository, set by an admin (ADR 0012). Without a row a repository gets
-- the default: one warm sandbox when a session used it in the last day, none otherwise.
CREATE TABLE sandbox_pool_settings (
  repository_id  TEXT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  size           INTEGER NOT NULL CHECK (size BETWEEN 0 AND 16),
  updated_by     TEXT NOT NULL,
  updated_at     INTEGER NOT NULL
);
