/** A repository's pool wish, read from D1: its setting (if any) and its recent use. */
export interface PoolWishRow {
  repositoryId: string;
  kind: "local" | "github";
  fullName: string;
  path: string | null;
  defaultBranch: string;
  /** An admin's size, or null for the default rule. */
  configuredSize: number | null;
  /** The latest session activity on it within the window, or null. */
  lastUsedAtMs: number | null;
}

interface Row {
  id: string;
  kind: "local" | "github";
  owner: string | null;
  name: string;
  path: string | null;
  default_branch: string;
  size: number | null;
  last_used_at: number | null;
}

/** The warm pool's per-repository sizes (`sandbox_pool_settings`, migration 0014) and what they apply to. */
export class SandboxPoolStore {
  constructor(private readonly db: D1Database) {}

  /**
   * Every repository with a size setting or session activity since `usedSince`: the ones the pool
   * may keep sandboxes for. Repositories nobody used and nobody sized are left out.
   */
  async wishes(usedSince: number): Promise<PoolWishRow[]> {
    const { results } = await this.db
      .prepare(
        `SELECT r.id, r.kind, r.owner, r.name, r.path, r.default_branch, p.size,
                (SELECT MAX(s.last_activity_at) FROM sessions s WHERE s.repository_id = r.id AND s.last_activity_at >= ?1) AS last_used_at
           FROM repositories r
           LEFT JOIN sandbox_pool_settings p ON p.repository_id = r.id
          ORDER BY r.id`,
      )
      .bind(usedSince)
      .all<Row>();
    return results
      .filter((row) => row.size !== null || row.last_used_at !== null)
      .map((row) => ({
        repositoryId: row.id,
        kind: row.kind,
        fullName: row.kind === "github" && row.owner !== null ? `${row.owner}/${row.name}` : row.name,
        path: row.path,
        defaultBranch: row.default_branch,
        configuredSize: row.size,
        lastUsedAtMs: row.last_used_at,
      }));
  }

  /** Sets a repository's size, or with null returns it to the default rule. */
  async setSize(repositoryId: string, size: number | null, by: string, now: number): Promise<void> {
    if (size === null) {
      await this.db.prepare("DELETE FROM sandbox_pool_settings WHERE repository_id = ?").bind(repositoryId).run();
      return;
    }
    await this.db
      .prepare(
        `INSERT INTO sandbox_pool_settings (repository_id, size, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (repository_id) DO UPDATE SET size = excluded.size, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      )
      .bind(repositoryId, size, by, now)
      .run();
  }
}
