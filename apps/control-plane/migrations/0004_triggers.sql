-- Triggers: automations, every delivery that reached one, the runs they made, the people behind
-- them on other platforms, and the outbox that reports outcomes back. Append-only.

-- Work that starts without anyone opening the dashboard. `trigger_kind` cron carries its expression
-- and time zone; `next_run_at` is the next slot (NULL when paused or not a schedule).
CREATE TABLE automations (
  id                    TEXT PRIMARY KEY,
  name                  TEXT NOT NULL,
  instructions          TEXT NOT NULL,
  repository_id         TEXT NOT NULL REFERENCES repositories(id),
  base_branch           TEXT,
  model                 TEXT,
  reasoning_effort      TEXT,
  trigger_kind          TEXT NOT NULL CHECK (trigger_kind IN ('cron', 'webhook', 'sentry', 'manual')),
  cron_expression       TEXT,
  time_zone             TEXT,
  triage                TEXT NOT NULL CHECK (triage IN ('follow-up', 'duplicate')),
  max_concurrent_runs   INTEGER NOT NULL CHECK (max_concurrent_runs >= 1),
  enabled               INTEGER NOT NULL,
  paused_reason         TEXT,
  consecutive_failures  INTEGER NOT NULL DEFAULT 0,
  next_run_at           INTEGER,
  owner_id              TEXT NOT NULL,
  owner_name            TEXT NOT NULL,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL,
  CHECK ((trigger_kind = 'cron') = (cron_expression IS NOT NULL AND time_zone IS NOT NULL))
);
CREATE INDEX automations_due ON automations(next_run_at) WHERE next_run_at IS NOT NULL;

-- Every delivery any trigger received, refused and replayed ones included. The first row for a
-- (source, automation, delivery_id) is the one that acts; later ones are recorded as `replayed`. Refused and
-- failed deliveries do not hold the id: a forgery cannot block the real one, and a redelivery applies.
CREATE TABLE trigger_deliveries (
  id             TEXT PRIMARY KEY,
  source         TEXT NOT NULL,
  delivery_id    TEXT NOT NULL,
  automation_id  TEXT,
  dedupe_key     TEXT,
  status         TEXT NOT NULL CHECK (status IN ('received', 'started', 'followed_up', 'duplicate', 'skipped', 'replayed', 'refused', 'failed')),
  reason         TEXT,
  run_id         TEXT,
  received_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX trigger_deliveries_first ON trigger_deliveries(source, COALESCE(automation_id, ''), delivery_id) WHERE status NOT IN ('replayed', 'refused', 'failed');
CREATE INDEX trigger_deliveries_automation ON trigger_deliveries(automation_id, received_at DESC);
CREATE INDEX trigger_deliveries_unprocessed ON trigger_deliveries(received_at) WHERE status = 'received';

-- What a delivery did: started a session, followed one up, or was held back (and why). Runs of
-- sources without an automation (a Slack thread) have automation_id NULL; caps count them too.
CREATE TABLE trigger_runs (
  id              TEXT PRIMARY KEY,
  automation_id   TEXT REFERENCES automations(id) ON DELETE CASCADE,
  delivery_id     TEXT NOT NULL,
  trigger         TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('starting', 'running', 'succeeded', 'failed', 'skipped', 'duplicate')),
  reason          TEXT,
  session_id      TEXT,
  prompt_id       TEXT,
  follow_up       INTEGER NOT NULL DEFAULT 0,
  dedupe_key      TEXT,
  actor_user_id   TEXT,
  scheduled_for   INTEGER,
  report_error    TEXT,
  created_at      INTEGER NOT NULL,
  started_at      INTEGER,
  finished_at     INTEGER
);
CREATE INDEX trigger_runs_automation ON trigger_runs(automation_id, id DESC);
-- The caps count with these; each WHERE is written exactly as the counting query's, so SQLite uses it.
CREATE INDEX trigger_runs_in_flight ON trigger_runs(automation_id) WHERE status IN ('starting', 'running');
CREATE INDEX trigger_runs_new_sessions ON trigger_runs(created_at) WHERE follow_up = 0 AND status NOT IN ('skipped', 'duplicate');
CREATE INDEX trigger_runs_starting ON trigger_runs(created_at) WHERE status = 'starting';
CREATE INDEX trigger_runs_running ON trigger_runs(started_at) WHERE status = 'running';
CREATE INDEX trigger_runs_session ON trigger_runs(session_id, prompt_id);

-- The session that currently owns a subject (a dedupe key): claimed before a session is started,
-- so a storm of deliveries about one Sentry issue starts at most one.
CREATE TABLE trigger_subjects (
  dedupe_key   TEXT PRIMARY KEY,
  run_id       TEXT NOT NULL,
  session_id   TEXT,
  claimed_at   INTEGER NOT NULL
);

-- People on other platforms linked to Lookout users. An unknown person gets a limited user: it
-- owns what it asked for but cannot sign in and is never an admin.
CREATE TABLE external_identities (
  provider      TEXT NOT NULL,
  external_id   TEXT NOT NULL,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  display_name  TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (provider, external_id)
);
ALTER TABLE users ADD COLUMN limited INTEGER NOT NULL DEFAULT 0;

-- Reports to a session's origin, delivered by the scheduler's alarm with retries and backoff. The
-- idempotency key makes a second enqueue of the same report a no-op and travels to the receiver.
CREATE TABLE outbox_reports (
  idempotency_key  TEXT PRIMARY KEY,
  session_id       TEXT NOT NULL,
  origin_kind      TEXT NOT NULL,
  outcome_json     TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  lease_until      INTEGER,
  last_error       TEXT,
  created_at       INTEGER NOT NULL,
  delivered_at     INTEGER
);
CREATE INDEX outbox_reports_due ON outbox_reports(next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_reports_session ON outbox_reports(session_id);

-- Where each session came from (JSON SessionOrigin), and the last report to it that failed for good.
ALTER TABLE sessions ADD COLUMN origin TEXT NOT NULL DEFAULT '{"kind":"api"}';
ALTER TABLE sessions ADD COLUMN report_error TEXT;
-- The running-sandbox cap counts live sessions.
CREATE INDEX sessions_live ON sessions(status) WHERE archived = 0;
