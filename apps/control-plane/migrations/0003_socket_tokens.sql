-- Session socket tokens work once, and only while the sign-in that asked for them lasts; signing
-- out closes that sign-in's open sockets. Append-only.

-- Issued socket tokens not yet used (using one deletes it). `auth_session_id` is the browser
-- sign-in that asked for it (its `auth_sessions.token_hash`), NULL for a signed service request.
CREATE TABLE socket_tokens (
  id               TEXT PRIMARY KEY,
  session_id       TEXT NOT NULL,
  auth_session_id  TEXT REFERENCES auth_sessions(token_hash) ON DELETE CASCADE,
  expires_at       INTEGER NOT NULL
);
CREATE INDEX socket_tokens_expiry ON socket_tokens(expires_at);
CREATE INDEX socket_tokens_auth_session ON socket_tokens(auth_session_id);

-- The sessions in which a sign-in has opened sockets, so that signing out knows whom to tell.
CREATE TABLE auth_session_sockets (
  auth_session_id  TEXT NOT NULL REFERENCES auth_sessions(token_hash) ON DELETE CASCADE,
  session_id       TEXT NOT NULL,
  opened_at        INTEGER NOT NULL,
  PRIMARY KEY (auth_session_id, session_id)
);
