import { randomToken, sha256Hex } from "@lookout/protocol";
import type { User } from "../auth/principal";
import { USER_COLUMNS, userFromRow } from "./users";

/** How long a browser session lasts after sign-in. */
export const AUTH_SESSION_TTL_MS = 30 * 24 * 60 * 60_000;

/** Random bytes in a session token (256 bits; guessing one is hopeless). */
const SESSION_TOKEN_BYTES = 32;

export interface IssuedAuthSession {
  /** The cookie value; only its SHA-256 is stored, so a leaked database cannot sign anyone in. */
  token: string;
  expiresAt: number;
}

/** Browser sessions in D1 `auth_sessions`, keyed by the SHA-256 of the cookie value. */
export class AuthSessionStore {
  constructor(private readonly db: D1Database) {}

  /** Starts a session for `userId`; expired rows are pruned on the way, so the table stays small. */
  async create(userId: string, now: number): Promise<IssuedAuthSession> {
    const token = randomToken(SESSION_TOKEN_BYTES);
    const expiresAt = now + AUTH_SESSION_TTL_MS;
    await this.db.batch([
      this.db.prepare("DELETE FROM auth_sessions WHERE expires_at <= ?").bind(now),
      this.db
        .prepare("INSERT INTO auth_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
        .bind(await sha256Hex(token), userId, now, expiresAt),
    ]);
    return { token, expiresAt };
  }

  /** The user a live session token belongs to, or null when it is unknown or expired. */
  async userFor(token: string, now: number): Promise<User | null> {
    const columns = USER_COLUMNS.split(", ")
      .map((column) => `u.${column}`)
      .join(", ");
    const row = await this.db
      .prepare(
        `SELECT ${columns} FROM auth_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ? AND s.expires_at > ?`,
      )
      .bind(await sha256Hex(token), now)
      .first();
    return row ? userFromRow(row) : null;
  }

  async revoke(token: string): Promise<void> {
    await this.db
      .prepare("DELETE FROM auth_sessions WHERE token_hash = ?")
      .bind(await sha256Hex(token))
      .run();
  }
}
