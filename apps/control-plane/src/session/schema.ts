import type { Sql } from "./sql";

/**
 * The session's SQLite schema as one append-only list of migrations. Never edit or reorder an entry
 * that has shipped: add a new one. `migrate` applies the missing ones in order, each inside the
 * caller's transaction, and records it in `_lookout_migrations`.
 */
export const SESSION_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      CREATE TABLE session (
        id                  TEXT PRIMARY KEY,
        title               TEXT NOT NULL,
        repository_id       TEXT NOT NULL,
        repository_json     TEXT NOT NULL,
        base_branch         TEXT NOT NULL,
        branch              TEXT NOT NULL,
        model               TEXT NOT NULL,
        reasoning_effort    TEXT,
        status              TEXT NOT NULL,
        archived            INTEGER NOT NULL DEFAULT 0,
        owner_json          TEXT NOT NULL,
        parent_session_id   TEXT,
        cost_usd            REAL NOT NULL DEFAULT 0,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
      );

      CREATE TABLE participants (
        user_id     TEXT PRIMARY KEY,
        author_json TEXT NOT NULL,
        role        TEXT NOT NULL,
        joined_at   INTEGER NOT NULL
      );

      CREATE TABLE prompts (
        id                TEXT PRIMARY KEY,
        request_id        TEXT UNIQUE,
        fingerprint       TEXT NOT NULL,
        author_json       TEXT NOT NULL,
        text              TEXT NOT NULL,
        model             TEXT NOT NULL,
        reasoning_effort  TEXT,
        status            TEXT NOT NULL,
        error             TEXT,
        created_at        INTEGER NOT NULL,
        started_at        INTEGER,
        finished_at       INTEGER
      );
      CREATE INDEX prompts_status ON prompts(status, created_at);
      CREATE UNIQUE INDEX prompts_one_running ON prompts(status) WHERE status = 'running';

      CREATE TABLE events (
        seq      INTEGER PRIMARY KEY,
        key      TEXT UNIQUE,
        type     TEXT NOT NULL,
        payload  TEXT NOT NULL,
        at       INTEGER NOT NULL
      );

      CREATE TABLE sandbox (
        slot            INTEGER PRIMARY KEY CHECK (slot = 1),
        sandbox_id      TEXT NOT NULL,
        provider        TEXT,
        provider_id     TEXT,
        status          TEXT NOT NULL,
        token_hash      TEXT NOT NULL,
        last_heartbeat  INTEGER,
        last_bseq       INTEGER NOT NULL DEFAULT 0,
        snapshot_id     TEXT,
        spawn_failures  INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      );

      CREATE TABLE deadlines (
        name    TEXT PRIMARY KEY,
        due_at  INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "sandbox snapshot semantics",
    sql: `ALTER TABLE sandbox ADD COLUMN snapshot_stops_sandbox INTEGER NOT NULL DEFAULT 0`,
  },
  {
    version: 3,
    name: "first sequence of evolving rows",
    sql: `ALTER TABLE events ADD COLUMN first_seq INTEGER`,
  },
  {
    version: 4,
    name: "session origin",
    sql: `ALTER TABLE session ADD COLUMN origin_json TEXT`,
  },
  {
    version: 5,
    name: "retired snapshots",
    sql: `
      CREATE TABLE retired_snapshots (
        snapshot_id     TEXT PRIMARY KEY,
        retired_at      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL
      );
      CREATE INDEX retired_snapshots_next ON retired_snapshots(next_attempt_at)`,
  },
];

export function migrate(sql: Sql, migrations = SESSION_MIGRATIONS): number {
  sql.exec(`CREATE TABLE IF NOT EXISTS _lookout_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(sql.exec<{ version: number }>(`SELECT version FROM _lookout_migrations`).map((row) => row.version));
  let count = 0;
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    for (const statement of splitStatements(migration.sql)) sql.exec(statement);
    sql.exec(`INSERT INTO _lookout_migrations (version, name, applied_at) VALUES (?, ?, ?)`, migration.version, migration.name, Date.now());
    count++;
  }
  return count;
}

/** Splits a migration into statements; migrations contain no semicolons inside literals. */
function splitStatements(source: string): string[] {
  return source
    .split(";")
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}
