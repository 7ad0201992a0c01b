import type { RepositoryImage } from "@lookout/protocol";

/** What a session's sandbox (or a warm-pool sandbox) starts from: the newest ready image. */
export interface ReadyImage {
  imageId: string;
  snapshotId: string;
  baseSha: string | null;
}

/** Where an image's clone comes from: a repository on the host, or a GitHub repository. */
export type ImageSource = { kind: "local"; path: string } | { kind: "github"; owner: string; name: string };

/** A repository that should have a fresh image. */
export interface DueRepository {
  repositoryId: string;
  source: ImageSource;
  baseBranch: string;
}

/** The repositories an image is built for: every local and GitHub repository (the row's CHECK guarantees the columns). */
const BUILDABLE = "(r.kind = 'local' AND r.path IS NOT NULL) OR (r.kind = 'github' AND r.owner IS NOT NULL)";

function sourceOf(row: { kind: string; path: string | null; owner: string | null; name: string }): ImageSource {
  return row.kind === "local" ? { kind: "local", path: row.path ?? "" } : { kind: "github", owner: row.owner ?? "", name: row.name };
}

interface Row {
  id: string;
  repository_id: string;
  base_branch: string;
  base_sha: string | null;
  snapshot_id: string | null;
  status: RepositoryImage["status"];
  trigger: RepositoryImage["trigger"];
  requested_by: string | null;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  error: string | null;
  output_tail: string | null;
  snapshot_deleted_at: number | null;
}

const COLUMNS =
  "id, repository_id, base_branch, base_sha, snapshot_id, status, trigger, requested_by, started_at, finished_at, duration_ms, error, output_tail, snapshot_deleted_at";

/** A superseded image whose snapshot the provider still holds: deleted by `deleteRetiredSnapshots`. */
export interface RetiredSnapshot {
  imageId: string;
  snapshotId: string;
}

function fromRow(row: Row): RepositoryImage {
  return {
    id: row.id,
    repositoryId: row.repository_id,
    baseBranch: row.base_branch,
    baseSha: row.base_sha,
    snapshotId: row.snapshot_id,
    status: row.status,
    trigger: row.trigger,
    requestedBy: row.requested_by,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    error: row.error,
    output: row.output_tail,
    ...(row.snapshot_deleted_at === null ? {} : { snapshotDeletedAt: row.snapshot_deleted_at }),
  };
}

/**
 * The newest ready image of a repository's base branch, or null: what a new session's sandbox and a
 * warm-pool sandbox start from (`snapshotId` as the create's snapshot). One indexed read.
 */
export async function newestRepositoryImage(db: D1Database, repositoryId: string, baseBranch: string): Promise<ReadyImage | null> {
  const row = await db
    .prepare(
      `SELECT id, snapshot_id, base_sha FROM repository_images
        WHERE repository_id = ?1 AND base_branch = ?2 AND status = 'ready' AND snapshot_id IS NOT NULL
        ORDER BY started_at DESC LIMIT 1`,
    )
    .bind(repositoryId, baseBranch)
    .first<{ id: string; snapshot_id: string; base_sha: string | null }>();
  return row ? { imageId: row.id, snapshotId: row.snapshot_id, baseSha: row.base_sha } : null;
}

/** Repository image builds (`repository_images`, migration 0011). */
export class RepositoryImageStore {
  constructor(private readonly db: D1Database) {}

  async start(build: {
    id: string;
    repositoryId: string;
    baseBranch: string;
    trigger: RepositoryImage["trigger"];
    requestedBy: string | null;
    now: number;
  }): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO repository_images (id, repository_id, base_branch, status, trigger, requested_by, started_at)
         VALUES (?1, ?2, ?3, 'building', ?4, ?5, ?6)`,
      )
      .bind(build.id, build.repositoryId, build.baseBranch, build.trigger, build.requestedBy, build.now)
      .run();
  }

  /** Records how a build ended; a build that already ended is left as it is (false). */
  async finish(
    id: string,
    outcome: { status: "ready" | "failed"; baseSha?: string; snapshotId?: string; error?: string; output?: string; now: number },
  ): Promise<boolean> {
    const result = await this.db
      .prepare(
        `UPDATE repository_images
            SET status = ?2, base_sha = ?3, snapshot_id = ?4, error = ?5, output_tail = ?6,
                finished_at = ?7, duration_ms = ?7 - started_at
          WHERE id = ?1 AND status = 'building'`,
      )
      .bind(
        id,
        outcome.status,
        outcome.baseSha ?? null,
        outcome.snapshotId ?? null,
        outcome.error ?? null,
        outcome.output ?? null,
        outcome.now,
      )
      .run();
    return result.meta.changes > 0;
  }

  async get(id: string): Promise<RepositoryImage | null> {
    const row = await this.db.prepare(`SELECT ${COLUMNS} FROM repository_images WHERE id = ?`).bind(id).first<Row>();
    return row ? fromRow(row) : null;
  }

  /** A repository's builds, newest first. */
  async list(repositoryId: string, limit: number): Promise<RepositoryImage[]> {
    const { results } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM repository_images WHERE repository_id = ? ORDER BY started_at DESC, id DESC LIMIT ?`)
      .bind(repositoryId, limit)
      .all<Row>();
    return results.map(fromRow);
  }

  /** Builds still running, oldest first. */
  async building(): Promise<RepositoryImage[]> {
    const { results } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM repository_images WHERE status = 'building' ORDER BY started_at`)
      .all<Row>();
    return results.map(fromRow);
  }

  /** Whether the repository has a build running now. */
  async isBuilding(repositoryId: string): Promise<boolean> {
    const row = await this.db
      .prepare("SELECT 1 AS one FROM repository_images WHERE repository_id = ? AND status = 'building' LIMIT 1")
      .bind(repositoryId)
      .first();
    return row !== null;
  }

  /**
   * Repositories a session used since `activeSince` whose last build started before
   * `builtBefore` (or that have none), with no build running: the ones due a rebuild.
   */
  async due(activeSince: number, builtBefore: number): Promise<DueRepository[]> {
    const { results } = await this.db
      .prepare(
        `SELECT r.id, r.kind, r.path, r.owner, r.name, r.default_branch FROM repositories r
          WHERE (${BUILDABLE})
            AND EXISTS (SELECT 1 FROM sessions s WHERE s.repository_id = r.id AND s.last_activity_at >= ?1)
            AND NOT EXISTS (SELECT 1 FROM repository_images i
                             WHERE i.repository_id = r.id AND (i.status = 'building' OR i.started_at >= ?2))
          ORDER BY r.id`,
      )
      .bind(activeSince, builtBefore)
      .all<{ id: string; kind: string; path: string | null; owner: string | null; name: string; default_branch: string }>();
    return results.map((row) => ({ repositoryId: row.id, source: sourceOf(row), baseBranch: row.default_branch }));
  }

  /**
   * Marks a repository's ready images beyond the newest `keep` superseded and returns those builds'
   * ids. Their snapshot ids move to `retired_snapshot_id`: nothing starts from them any more, and
   * the provider's copies wait there until they are deleted.
   */
  async supersede(repositoryId: string, baseBranch: string, keep: number, now: number): Promise<string[]> {
    const { results } = await this.db
      .prepare(
        `UPDATE repository_images
            SET status = 'superseded', retired_snapshot_id = snapshot_id, retired_at = ?4, snapshot_id = NULL
          WHERE id IN (SELECT id FROM repository_images
                        WHERE repository_id = ?1 AND base_branch = ?2 AND status = 'ready'
                        ORDER BY started_at DESC LIMIT -1 OFFSET ?3)
          RETURNING id`,
      )
      .bind(repositoryId, baseBranch, keep, now)
      .all<{ id: string }>();
    return results.map((row) => row.id);
  }

  /** Superseded images retired at or before `retiredBefore` whose snapshots are not deleted yet, oldest first. */
  async retiredSnapshots(retiredBefore: number, limit: number): Promise<RetiredSnapshot[]> {
    const { results } = await this.db
      .prepare(
        `SELECT id, retired_snapshot_id FROM repository_images
          WHERE retired_snapshot_id IS NOT NULL AND retired_at <= ?1
          ORDER BY retired_at LIMIT ?2`,
      )
      .bind(retiredBefore, limit)
      .all<{ id: string; retired_snapshot_id: string }>();
    return results.map((row) => ({ imageId: row.id, snapshotId: row.retired_snapshot_id }));
  }

  /** Whether any superseded image's snapshot still waits to be deleted. */
  async hasRetiredSnapshots(): Promise<boolean> {
    const row = await this.db
      .prepare("SELECT 1 AS one FROM repository_images WHERE retired_snapshot_id IS NOT NULL AND retired_at IS NOT NULL LIMIT 1")
      .first();
    return row !== null;
  }

  /** Records that the provider deleted a superseded image's snapshot. */
  async snapshotDeleted(imageId: string, now: number): Promise<void> {
    await this.db
      .prepare("UPDATE repository_images SET retired_snapshot_id = NULL, snapshot_deleted_at = ?2 WHERE id = ?1")
      .bind(imageId, now)
      .run();
  }

  /**
   * When the next active repository falls due: its newest build's start plus `intervalMs`
   * (now, for one never built). Null when no repository is active.
   */
  async nextDueAt(activeSince: number, intervalMs: number): Promise<number | null> {
    const row = await this.db
      .prepare(
        `SELECT MIN(COALESCE((SELECT MAX(i.started_at) FROM repository_images i WHERE i.repository_id = r.id), 0)) AS latest
           FROM repositories r
          WHERE (${BUILDABLE})
            AND EXISTS (SELECT 1 FROM sessions s WHERE s.repository_id = r.id AND s.last_activity_at >= ?1)`,
      )
      .bind(activeSince)
      .first<{ latest: number | null }>();
    return row?.latest === null || row?.latest === undefined ? null : row.latest + intervalMs;
  }
}
