/** How the session a subject points at stands, as far as triage cares. */
export type SubjectHolder =
  { state: "claimed" } | { state: "starting"; runId: string } | { state: "active"; runId: string; sessionId: string };

/**
 * The session that owns each subject (a delivery's dedupe key). A delivery claims the subject
 * before it starts a session, in one statement, so deliveries about the same Sentry issue arriving
 * together start one session between them; the others are triaged onto it.
 */
export class TriggerSubjectStore {
  constructor(private readonly db: D1Database) {}

  /**
   * Claims `key` for `runId` unless another run holds it with a session that is still active (not
   * archived; created, starting or running, or idle with activity since `idleSince`) or still
   * starting. A holder whose session ended is replaced, compare-and-set, so one claimant wins.
   */
  async claim(key: string, runId: string, now: number, idleSince: number): Promise<SubjectHolder> {
    const inserted = await this.db
      .prepare("INSERT INTO trigger_subjects (dedupe_key, run_id, claimed_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
      .bind(key, runId, now)
      .run();
    if (inserted.meta.changes === 1) return { state: "claimed" };
    const holder = await this.db
      .prepare(
        `SELECT t.run_id, t.session_id, r.status AS run_status, s.status AS session_status, s.archived, s.last_activity_at
         FROM trigger_subjects t LEFT JOIN trigger_runs r ON r.id = t.run_id LEFT JOIN sessions s ON s.id = t.session_id
         WHERE t.dedupe_key = ?`,
      )
      .bind(key)
      .first<{
        run_id: string;
        session_id: string | null;
        run_status: string | null;
        session_status: string | null;
        archived: number | null;
        last_activity_at: number | null;
      }>();
    if (!holder) return this.claim(key, runId, now, idleSince);
    if (holder.session_id === null && holder.run_status === "starting") return { state: "starting", runId: holder.run_id };
    if (holder.session_id !== null && holder.archived === 0) {
      const live = holder.session_status === "created" || holder.session_status === "starting" || holder.session_status === "running";
      const recentlyIdle = holder.session_status === "idle" && (holder.last_activity_at ?? 0) >= idleSince;
      if (live || recentlyIdle) return { state: "active", runId: holder.run_id, sessionId: holder.session_id };
    }
    const taken = await this.db
      .prepare("UPDATE trigger_subjects SET run_id = ?3, session_id = NULL, claimed_at = ?4 WHERE dedupe_key = ?1 AND run_id = ?2")
      .bind(key, holder.run_id, runId, now)
      .run();
    // Another delivery took it over between the read and the write: look again at what it holds.
    return taken.meta.changes === 1 ? { state: "claimed" } : this.claim(key, runId, now, idleSince);
  }

  /** Points the subject at the session its run started. */
  async attach(key: string, runId: string, sessionId: string): Promise<void> {
    await this.db
      .prepare("UPDATE trigger_subjects SET session_id = ?3 WHERE dedupe_key = ?1 AND run_id = ?2")
      .bind(key, runId, sessionId)
      .run();
  }

  /** Gives a claim back when its run started nothing, so the next delivery about the subject may. */
  async release(key: string, runId: string): Promise<void> {
    await this.db.prepare("DELETE FROM trigger_subjects WHERE dedupe_key = ?1 AND run_id = ?2").bind(key, runId).run();
  }
}
