import { z } from "zod";
import type { User } from "../auth/principal";

/** The local administrator created by token login; GitHub users get their own ids. */
export const LOCAL_ADMIN_ID = "admin";
const LOCAL_ADMIN_NAME = "Admin";

const UserRow = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string().nullable(),
  avatar_url: z.string().nullable(),
  role: z.enum(["admin", "member"]),
  github_id: z.number().int().nullable(),
  github_login: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});

/** Maps a `users` row to a `User`; the one place this table's snake_case meets camelCase. */
export function userFromRow(row: unknown): User {
  const r = UserRow.parse(row);
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    avatarUrl: r.avatar_url,
    role: r.role,
    githubId: r.github_id,
    githubLogin: r.github_login,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The column list every query selects, so `userFromRow` always sees the same shape. */
export const USER_COLUMNS = "id, name, email, avatar_url, role, github_id, github_login, created_at, updated_at";

/** People who can sign in. Each sign-in method upserts its user here and nothing else writes it. */
export class UserStore {
  constructor(private readonly db: D1Database) {}

  async get(id: string): Promise<User | null> {
    const row = await this.db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`).bind(id).first();
    return row ? userFromRow(row) : null;
  }

  /**
   * Creates or refreshes a GitHub user, keyed by the numeric GitHub id (a login can be renamed, the
   * id cannot). Name, login, email, avatar and role follow GitHub and the allow-list at each sign-in.
   */
  async upsertGithubUser(
    identity: { id: number; login: string; name: string | null; email: string | null; avatarUrl: string | null },
    role: "admin" | "member",
    now: number,
  ): Promise<User> {
    const row = await this.db
      .prepare(
        `INSERT INTO users (id, name, email, avatar_url, role, github_id, github_login, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
         ON CONFLICT (github_id) DO UPDATE SET name = excluded.name, email = excluded.email, avatar_url = excluded.avatar_url,
           role = excluded.role, github_login = excluded.github_login, updated_at = excluded.updated_at
         RETURNING ${USER_COLUMNS}`,
      )
      .bind(
        `gh_${identity.id}`,
        identity.name ?? identity.login,
        identity.email,
        identity.avatarUrl,
        role,
        identity.id,
        identity.login,
        now,
      )
      .first();
    return userFromRow(row);
  }

  /**
   * Creates the local administrator on first login and keeps it an admin afterwards. The name is
   * left alone on later logins so a rename sticks.
   */
  async ensureLocalAdmin(now: number): Promise<User> {
    const row = await this.db
      .prepare(
        `INSERT INTO users (id, name, role, created_at, updated_at) VALUES (?1, ?2, 'admin', ?3, ?3)
         ON CONFLICT (id) DO UPDATE SET role = 'admin', updated_at = excluded.updated_at
         RETURNING ${USER_COLUMNS}`,
      )
      .bind(LOCAL_ADMIN_ID, LOCAL_ADMIN_NAME, now)
      .first();
    return userFromRow(row);
  }
}
