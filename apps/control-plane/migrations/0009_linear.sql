-- The Linear agent: the workspaces Lookout is installed in, Linear's agent sessions and the Lookout
-- sessions behind them, the repository each issue works in, and the rules that pick one. Append-only.

-- One row per Linear workspace (organization) that installed Lookout as an app (`actor=app`). The
-- tokens are sealed with the secrets cipher; the access token is refreshed before `expires_at`.
CREATE TABLE linear_installations (
  organization_id      TEXT PRIMARY KEY,
  organization_name    TEXT NOT NULL,
  app_user_id          TEXT,
  access_ciphertext    TEXT NOT NULL,
  access_iv            TEXT NOT NULL,
  refresh_ciphertext   TEXT,
  refresh_iv           TEXT,
  key_version          TEXT NOT NULL,
  expires_at           INTEGER,
  scopes               TEXT NOT NULL,
  installed_by         TEXT,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL
);

-- An OAuth install in flight: the `state` the browser carries to Linear and back, used once.
CREATE TABLE linear_oauth_states (
  state       TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL,
  expires_at  INTEGER NOT NULL
);

-- One row per Linear agent session Lookout was asked into. `awaiting_repository`: an elicitation
-- asked which repository to use and `pending_prompt` waits for the answer; `started`: `session_id`
-- does the work; `stopped`: someone sent the stop signal before a session started.
CREATE TABLE linear_agent_sessions (
  agent_session_id    TEXT PRIMARY KEY,
  organization_id     TEXT NOT NULL,
  issue_id            TEXT NOT NULL,
  issue_identifier    TEXT NOT NULL,
  issue_title         TEXT NOT NULL,
  state               TEXT NOT NULL CHECK (state IN ('awaiting_repository', 'started', 'stopped')),
  repository_options  TEXT NOT NULL DEFAULT '[]',
  pending_prompt      TEXT,
  repository_id       TEXT,
  session_id          TEXT,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);
CREATE INDEX linear_agent_sessions_session ON linear_agent_sessions(session_id) WHERE session_id IS NOT NULL;

-- The repository an issue works in, once chosen: a second mention on the issue uses it at once.
CREATE TABLE linear_issue_repositories (
  issue_id       TEXT PRIMARY KEY,
  repository_id  TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  updated_at     INTEGER NOT NULL
);

-- Team (key), project (id) or label (name, lower-cased) → repository.
CREATE TABLE linear_repository_rules (
  kind           TEXT NOT NULL CHECK (kind IN ('team', 'project', 'label')),
  value          TEXT NOT NULL,
  repository_id  TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (kind, value)
);
