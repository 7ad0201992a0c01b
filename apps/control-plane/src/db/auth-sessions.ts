import { randomToken, sha256Hex } from "@lookout/protocol";
import { z } from "zod";
import type { User } from "../auth/principal";
import { USER_COLUMNS, userFromRow } from "./users";

/** How long a browser session lasts after sign-in. */
export const AUTH_SESSION_TTL_MS = 30 * 24 * 60 * 60_000;

/** Random bytes in a session token (256 bits; guessing one is hopeless). */
const SESSION_TOKEN_BYTES = 32;

export interface IssuedAuthSession {
  /** The cookie value; only its SHA-256 is stored, so a leaked database cannot sign anyone in. */
  token: string;
  /** The row's key: the SHA-256 (hex) of `token`. */
  authSessionId: string;
  expiresAt: number;
}

/** What signing out ended: the sign-in, and the sessions it had opened sockets in. */
export interface RevokedAuthSession {
  authSessionId: string;
  socketSessionIds: string[];
}

const SessionIdRow = z.object({ session_id: z.string() });

/** A browser session's id: the SHA-256 of its cookie value, which is what `auth_sessions` is keyed by. */
export function authSessionIdOf(token: string): Promise<string> {
  return sha256Hex(token);
}

/** Browser sessions in D1 `auth_sessions`, keyed by the SHA-256 of the cookie value. */
export class AuthSessionStore {
  constructor(private readonly db: D1Database) {}

  /**
   * Starts a session for `userId`; expired rows are pruned on the way, so the table stays small
   * (their socket tokens and socket rows go with them, by `ON DELETE CASCADE`).
   */
  async create(userId: string, now: number): Promise<IssuedAuthSession> {
    const token = randomToken(SESSION_TOKEN_BYTES);
    const authSessionId = await authSessionIdOf(token);
    const expiresAt = now + AUTH_SESSION_TTL_MS;
    await this.db.batch([
      this.db.prepare("DELETE FROM auth_sessions WHERE expires_at <= ?").bind(now),
      this.db
        .prepare("INSERT INTO auth_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
        .bind(authSessionId, userId, now, expiresAt),
    ]);
    return { token, authSessionId, expiresAt };
  }

  /** The live session a cookie value names, with its user; null when it is unknown or expired. */
  async find(token: string, now: number): Promise<{ authSessionId: string; user: User } | null> {
    const authSessionId = await authSessionIdOf(token);
    const columns = USER_COLUMNS.split(", ")
      .map((column) => `u.${column}`)
      .join(", ");
    const row = await this.db
      .prepare(
        `SELECT ${columns} FROM auth_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ? AND s.expires_at > ?`,
      )
      .bind(authSessionId, now)
      .first();
    return row ? { authSessionId, user: userFromRow(row) } : null;
  }

  /** Whether the session is still signed in (not signed out, not expired). */
  async isLive(authSessionId: string, now: number): Promise<boolean> {
    const row = await this.db
      .prepare("SELECT 1 AS live FROM auth_sessions WHERE token_hash = ? AND expires_at > ?")
      .bind(authSessionId, now)
      .first();
    return row !== null;
  }

  /**
   * Signs a session out: deletes it with its unused socket tokens, and returns the sessions it had
   * sockets in, so the caller can close them. One transaction, so a socket token redeemed
   * concurrently either lands in the returned list or finds the sign-in gone and is refused.
   */
  async revoke(token: string): Promise<RevokedAuthSession> {
    const authSessionId = await authSessionIdOf(token);
    const [sockets] = await this.db.batch([
      this.db.prepare("SELECT session_id FROM auth_session_sockets WHERE auth_session_id = ?").bind(authSessionId),
      // The cascade would remove these two too; deleting them here does not depend on it.
      this.db.prepare("DELETE FROM socket_tokens WHERE auth_session_id = ?").bind(authSessionId),
      this.db.prepare("DELETE FROM auth_session_sockets WHERE auth_session_id = ?").bind(authSessionId),
      this.db.prepare("DELETE FROM auth_sessions WHERE token_hash = ?").bind(authSessionId),
    ]);
    const socketSessionIds = (sockets?.results ?? []).map((row) => SessionIdRow.parse(row).session_id);
    return { authSessionId, socketSessionIds };
  }
}
