import { z } from "zod";
import { LookoutError, type Repository, type RepositoryInput, type RepositoryUpdate, randomToken } from "@lookout/protocol";

export type RepositoryPatch = z.infer<typeof RepositoryUpdate>;

/** A registered repository plus what only the control plane reads. */
export interface RepositoryRecord extends Repository {
  /** Free-form settings (e.g. a GitHub installation id); never shown as-is to browsers. */
  metadata: Record<string, unknown>;
}

/** Random bytes in a repository id: 128 bits, base64url, so ids are unguessable and URL-safe. */
const REPOSITORY_ID_BYTES = 16;

const RepositoryMetadata = z.record(z.string(), z.unknown());

const RepositoryRow = z.object({
  id: z.string(),
  kind: z.enum(["local", "github"]),
  owner: z.string().nullable(),
  name: z.string(),
  path: z.string().nullable(),
  default_branch: z.string(),
  description: z.string().nullable(),
  metadata: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
});

const COLUMNS = "id, kind, owner, name, path, default_branch, description, metadata, created_at, updated_at";

/** Maps a `repositories` row; the one place this table's snake_case meets camelCase. */
function recordFromRow(row: unknown): RepositoryRecord {
  const r = RepositoryRow.parse(row);
  return {
    id: r.id,
    kind: r.kind,
    fullName: r.kind === "github" && r.owner !== null ? `${r.owner}/${r.name}` : r.name,
    name: r.name,
    owner: r.owner,
    path: r.path,
    defaultBranch: r.default_branch,
    description: r.description,
    metadata: RepositoryMetadata.parse(JSON.parse(r.metadata)),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The DTO browsers see: everything but `metadata`. */
export function toRepositoryDto(record: RepositoryRecord): Repository {
  const { metadata: _metadata, ...repository } = record;
  return repository;
}

/**
 * Repositories sessions can run on. Local ones are a path on the host that runs Lookout; the
 * Worker cannot see that disk, so only the path's shape is checked here and the sandbox gateway
 * finds out whether a git repository is really there.
 */
export class RepositoryStore {
  constructor(private readonly db: D1Database) {}

  async get(id: string): Promise<RepositoryRecord | null> {
    const row = await this.db.prepare(`SELECT ${COLUMNS} FROM repositories WHERE id = ?`).bind(id).first();
    return row ? recordFromRow(row) : null;
  }

  async getOrThrow(id: string): Promise<RepositoryRecord> {
    const record = await this.get(id);
    if (!record) throw new LookoutError("REPOSITORY_NOT_FOUND", `No repository has the id "${id}"; register it first.`);
    return record;
  }

  /** The registered GitHub repository `owner/name` (GitHub names ignore case), if any. */
  async findGithub(owner: string, name: string): Promise<RepositoryRecord | null> {
    const row = await this.db
      .prepare(`SELECT ${COLUMNS} FROM repositories WHERE kind = 'github' AND lower(owner) = lower(?) AND lower(name) = lower(?)`)
      .bind(owner, name)
      .first();
    return row ? recordFromRow(row) : null;
  }

  async list(): Promise<RepositoryRecord[]> {
    const { results } = await this.db
      .prepare(`SELECT ${COLUMNS} FROM repositories ORDER BY lower(COALESCE(owner, '')), lower(name), id`)
      .all();
    return results.map(recordFromRow);
  }

  /**
   * Registers a repository. A name already taken (ignoring case) or a local path already registered
   * is `REPOSITORY_EXISTS`; the check and the insert are one statement, so a race cannot slip a
   * duplicate in between.
   */
  async create(input: RepositoryInput, now: number = Date.now()): Promise<RepositoryRecord> {
    const owner = input.kind === "github" ? input.owner : null;
    const path = input.kind === "local" ? normalizeLocalPath(input.path) : null;
    const row = await this.db
      .prepare(
        `INSERT INTO repositories (${COLUMNS})
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, '{}', ?8, ?8
         WHERE NOT EXISTS (SELECT 1 FROM repositories WHERE ${sameName("?2", "?3", "?4", "?1")})
           AND NOT EXISTS (SELECT 1 FROM repositories WHERE ?5 IS NOT NULL AND kind = 'local' AND path = ?5)
         ON CONFLICT DO NOTHING
         RETURNING ${COLUMNS}`,
      )
      .bind(randomToken(REPOSITORY_ID_BYTES), input.kind, owner, input.name, path, input.defaultBranch, input.description ?? null, now)
      .first();
    if (!row) {
      throw new LookoutError(
        "REPOSITORY_EXISTS",
        path === null
          ? `A repository named "${owner === null ? input.name : `${owner}/${input.name}`}" is already registered.`
          : `A local repository named "${input.name}" or at ${path} is already registered.`,
      );
    }
    return recordFromRow(row);
  }

  /** Changes a repository's name, default branch or description; a taken name is `REPOSITORY_EXISTS`. */
  async update(id: string, patch: RepositoryPatch, now: number = Date.now()): Promise<RepositoryRecord> {
    const current = await this.getOrThrow(id);
    const name = patch.name ?? current.name;
    const defaultBranch = patch.defaultBranch ?? current.defaultBranch;
    // An empty description clears it.
    const description = patch.description === undefined ? current.description : patch.description || null;
    const row = await this.db
      .prepare(
        `UPDATE repositories SET name = ?4, default_branch = ?5, description = ?6, updated_at = ?7
         WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM repositories WHERE ${sameName("?2", "?3", "?4", "?1")})
         RETURNING ${COLUMNS}`,
      )
      .bind(id, current.kind, current.owner, name, defaultBranch, description, now)
      .first();
    if (row) return recordFromRow(row);
    await this.getOrThrow(id);
    throw new LookoutError("REPOSITORY_EXISTS", `Another repository is already named "${name}".`);
  }

  /**
   * Deletes a repository and its own secrets, atomically. A repository that sessions use is kept
   * (`CONFLICT`): their history points at it, and deleting it would orphan that history.
   */
  async remove(id: string): Promise<void> {
    const unused =
      "NOT EXISTS (SELECT 1 FROM sessions WHERE repository_id = ?1) AND NOT EXISTS (SELECT 1 FROM automations WHERE repository_id = ?1)";
    const [, deleted] = await this.db.batch([
      this.db.prepare(`DELETE FROM secrets WHERE scope = ?1 AND EXISTS (SELECT 1 FROM repositories WHERE id = ?1) AND ${unused}`).bind(id),
      this.db.prepare(`DELETE FROM repositories WHERE id = ?1 AND ${unused}`).bind(id),
    ]);
    if ((deleted?.meta.changes ?? 0) === 1) return;
    await this.getOrThrow(id);
    throw new LookoutError(
      "CONFLICT",
      "Sessions or automations use this repository, so it stays registered: delete its automations first; sessions keep it for their history.",
    );
  }
}

/**
 * SQL that is true for another row with the same (kind, owner, name), ignoring case: GitHub names
 * are case-insensitive, and local repositories `api` and `API` would look alike in the dashboard.
 * The arguments are the statement's parameter placeholders.
 */
function sameName(kind: string, owner: string, name: string, excludeId: string): string {
  return `kind = ${kind} AND lower(COALESCE(owner, '')) = lower(COALESCE(${owner}, '')) AND lower(name) = lower(${name}) AND id != ${excludeId}`;
}

/**
 * The canonical form of a local repository path: absolute, no `.` or `..` segments (which would
 * make two spellings of one directory look different, or walk out of the intended one), no control
 * characters, no duplicate or trailing slashes, and not `/` itself.
 */
export function normalizeLocalPath(path: string): string {
  const refuse = (why: string) => new LookoutError("VALIDATION_FAILED", `The path ${why}.`, { issues: [{ path: "path", message: why }] });
  if (!path.startsWith("/")) throw refuse("must be absolute (start with '/')");
  if (/[\u0000-\u001f\u007f]/.test(path)) throw refuse("must not contain control characters");
  const segments = path.split("/").filter((segment) => segment !== "");
  if (segments.length === 0) throw refuse("must name a directory below '/'");
  if (segments.some((segment) => segment === "." || segment === "..")) throw refuse("must not contain '.' or '..' segments");
  return `/${segments.join("/")}`;
}
