-- What the Sentry and inbound-webhook triggers need beyond an automation row. Append-only.

-- A Sentry automation's integration Client Secret, sealed like `secrets` (AES-256-GCM, versioned
-- keys, bound to the slot `sentry-trigger`/<automation id>), and its conditions (JSON SentryConditions).
CREATE TABLE sentry_triggers (
  automation_id       TEXT PRIMARY KEY REFERENCES automations(id) ON DELETE CASCADE,
  secret_ciphertext   TEXT NOT NULL,
  secret_iv           TEXT NOT NULL,
  secret_key_version  TEXT NOT NULL,
  conditions          TEXT NOT NULL,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);

-- An inbound webhook automation's key (only its SHA-256 is kept), its JSONPath conditions (JSON
-- WebhookCondition[]), where a delivery's idempotency key comes from (JSON WebhookIdempotency) and
-- the template that renders the payload into the prompt's untrusted block.
CREATE TABLE webhook_triggers (
  automation_id   TEXT PRIMARY KEY REFERENCES automations(id) ON DELETE CASCADE,
  key_hash        TEXT,
  key_created_at  INTEGER,
  conditions      TEXT NOT NULL,
  idempotency     TEXT,
  template        TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
