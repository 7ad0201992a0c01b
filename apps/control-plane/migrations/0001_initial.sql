-- The shared D1 index. Append-only: never edit a migration that has shipped; add a new file.

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  email         TEXT,
  avatar_url    TEXT,
  role          TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
  -- Filled by GitHub sign-in when it is enabled.
  github_id     INTEGER UNIQUE,
  github_login  TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

-- Browser sessions: only the SHA-256 of the cookie value is stored.
CREATE TABLE auth_sessions (
  token_hash    TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

-- Nonces of signed service requests, kept until their timestamp leaves the accepted window.
CREATE TABLE service_nonces (
  service       TEXT NOT NULL,
  nonce         TEXT NOT NULL,
  expires_at    INTEGER NOT NULL,
  PRIMARY KEY (service, nonce)
);

CREATE TABLE repositories (
  id              TEXT PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('local', 'github')),
  owner           TEXT,
  name            TEXT NOT NULL,
  path            TEXT,
  default_branch  TEXT NOT NULL,
  description     TEXT,
  metadata        TEXT NOT NULL DEFAULT '{}',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  CHECK ((kind = 'local' AND path IS NOT NULL) OR (kind = 'github' AND owner IS NOT NULL))
);
CREATE UNIQUE INDEX repositories_full_name ON repositories(kind, COALESCE(owner, ''), name);

-- The sessions index: what listing and search read without waking each session's Durable Object.
-- The Durable Object is the source of truth and writes through to this row on every change.
CREATE TABLE sessions (
  id                 TEXT PRIMARY KEY,
  title              TEXT NOT NULL,
  repository_id      TEXT NOT NULL REFERENCES repositories(id),
  owner_id           TEXT NOT NULL REFERENCES users(id),
  owner_name         TEXT NOT NULL,
  model              TEXT NOT NULL,
  status             TEXT NOT NULL,
  archived           INTEGER NOT NULL DEFAULT 0,
  parent_session_id  TEXT,
  cost_usd           REAL NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  last_activity_at   INTEGER NOT NULL
);
CREATE INDEX sessions_activity ON sessions(archived, last_activity_at DESC, id DESC);
CREATE INDEX sessions_repository ON sessions(repository_id, last_activity_at DESC);
CREATE INDEX sessions_owner ON sessions(owner_id, last_activity_at DESC);

-- Secrets: AES-256-GCM ciphertext with the id of the key version that sealed it.
-- scope is '' for global secrets, else a repository id.
CREATE TABLE secrets (
  scope        TEXT NOT NULL,
  name         TEXT NOT NULL,
  ciphertext   TEXT NOT NULL,
  iv           TEXT NOT NULL,
  key_version  TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (scope, name)
);
