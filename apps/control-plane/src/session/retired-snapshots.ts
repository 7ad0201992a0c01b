import { one, type Sql } from "./sql";

/** How long after a snapshot is replaced its deletion is first tried (its sandbox has usually moved on). */
export const RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS = 60_000;
/** The longest wait between two tries; the wait doubles from the first up to this. */
const MAX_RETRY_WAIT_MS = 6 * 3600_000;
/** Tries before a snapshot is given up on (about a day of backoff); the provider then keeps it. */
export const RETIRED_SNAPSHOT_MAX_ATTEMPTS = 12;

/**
 * The session's snapshots that nothing will start from any more — replaced by a newer one, or taken
 * of a sandbox the session had already replaced — until the provider has deleted them
 * (`retired_snapshots`, session migration 5). The session keeps only its newest snapshot; the ones
 * before it would otherwise stay in the provider's storage for good, one per prompt.
 */
export class RetiredSnapshotStore {
  constructor(private readonly sql: Sql) {}

  /** Records `snapshotId` for deletion at `firstAttemptAt`; one already recorded keeps its schedule. */
  retire(snapshotId: string, now: number, firstAttemptAt: number): void {
    this.sql.exec(
      `INSERT INTO retired_snapshots (snapshot_id, retired_at, attempts, next_attempt_at) VALUES (?, ?, 0, ?)
       ON CONFLICT(snapshot_id) DO NOTHING`,
      snapshotId,
      now,
      firstAttemptAt,
    );
  }

  /** Forgets a snapshot that is the session's current one again, so it is never deleted. */
  keep(snapshotId: string): void {
    this.sql.exec(`DELETE FROM retired_snapshots WHERE snapshot_id = ?`, snapshotId);
  }

  /** Brings every waiting deletion forward to `at` (the sandbox that might still use them stopped). */
  hurry(at: number): void {
    this.sql.exec(`UPDATE retired_snapshots SET next_attempt_at = ? WHERE next_attempt_at > ?`, at, at);
  }

  /**
   * The snapshots whose deletion is due at `now`, oldest first, each counted as tried and given its
   * next try (so a try that never reports back is made again); those past the last try are dropped
   * and returned as `abandoned`.
   */
  takeDue(now: number, limit: number): { due: string[]; abandoned: string[] } {
    const rows = this.sql.exec<{ snapshot_id: string; attempts: number }>(
      `SELECT snapshot_id, attempts FROM retired_snapshots WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`,
      now,
      limit,
    );
    const due: string[] = [];
    const abandoned: string[] = [];
    for (const row of rows) {
      if (row.attempts >= RETIRED_SNAPSHOT_MAX_ATTEMPTS) {
        this.sql.exec(`DELETE FROM retired_snapshots WHERE snapshot_id = ?`, row.snapshot_id);
        abandoned.push(row.snapshot_id);
        continue;
      }
      // 2, 4, 8 … times the first wait, up to the longest.
      const wait = Math.min(RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS * 2 ** (row.attempts + 1), MAX_RETRY_WAIT_MS);
      this.sql.exec(
        `UPDATE retired_snapshots SET attempts = attempts + 1, next_attempt_at = ? WHERE snapshot_id = ?`,
        now + wait,
        row.snapshot_id,
      );
      due.push(row.snapshot_id);
    }
    return { due, abandoned };
  }

  /** The provider deleted it (or never had it). */
  deleted(snapshotId: string): void {
    this.sql.exec(`DELETE FROM retired_snapshots WHERE snapshot_id = ?`, snapshotId);
  }

  nextAttemptAt(): number | null {
    return one(this.sql.exec<{ at: number | null }>(`SELECT MIN(next_attempt_at) AS at FROM retired_snapshots`))?.at ?? null;
  }

  /** Every snapshot waiting for deletion (tests and diagnostics). */
  list(): { snapshotId: string; attempts: number; nextAttemptAt: number }[] {
    return this.sql
      .exec<{ snapshot_id: string; attempts: number; next_attempt_at: number }>(
        `SELECT snapshot_id, attempts, next_attempt_at FROM retired_snapshots ORDER BY next_attempt_at`,
      )
      .map((row) => ({ snapshotId: row.snapshot_id, attempts: row.attempts, nextAttemptAt: row.next_attempt_at }));
  }
}
