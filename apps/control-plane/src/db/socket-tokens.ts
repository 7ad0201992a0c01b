import { z } from "zod";

/** A socket token as stored: which session it opens and which sign-in asked for it. */
export interface StoredSocketToken {
  /** The token's `jti` claim. */
  id: string;
  sessionId: string;
  /** The browser sign-in (`auth_sessions.token_hash`), or null for a signed service request. */
  authSessionId: string | null;
  expiresAt: number;
}

const RedeemedRow = z.object({ auth_session_id: z.string().nullable() });

/**
 * Token `?2` exists for session `?3`, has not expired at time `?1`, and its sign-in, if it has one,
 * is still signed in at `?1`.
 */
const USABLE_TOKEN = `id = ?2 AND session_id = ?3 AND expires_at > ?1
  AND (auth_session_id IS NULL OR auth_session_id IN (SELECT token_hash FROM auth_sessions WHERE expires_at > ?1))`;

/**
 * Socket tokens in D1 `socket_tokens` (issued and not yet used) and `auth_session_sockets` (the
 * sessions each sign-in has opened sockets in). The token itself is signed and stateless; these
 * rows make it single-use and tie it to the sign-in that asked for it.
 */
export class SocketTokenStore {
  constructor(private readonly db: D1Database) {}

  /**
   * Records an issued token; expired unused ones are pruned on the way. Returns false, storing
   * nothing, when the token's sign-in has ended in the meantime.
   */
  async issue(token: StoredSocketToken, now: number): Promise<boolean> {
    const insert =
      token.authSessionId === null
        ? this.db
            .prepare("INSERT INTO socket_tokens (id, session_id, auth_session_id, expires_at) VALUES (?, ?, NULL, ?)")
            .bind(token.id, token.sessionId, token.expiresAt)
        : this.db
            .prepare(
              `INSERT INTO socket_tokens (id, session_id, auth_session_id, expires_at)
               SELECT ?, ?, token_hash, ? FROM auth_sessions WHERE token_hash = ? AND expires_at > ?`,
            )
            .bind(token.id, token.sessionId, token.expiresAt, token.authSessionId, now);
    const [, inserted] = await this.db.batch([this.db.prepare("DELETE FROM socket_tokens WHERE expires_at <= ?").bind(now), insert]);
    return (inserted?.meta.changes ?? 0) === 1;
  }

  /**
   * Uses a token up for `sessionId`. Returns its sign-in (null for a service's token), after
   * remembering that the sign-in now has a socket in the session; or `undefined` when the token was
   * never issued, is used, expired, for another session, or its sign-in has ended. One transaction,
   * so two upgrades racing with one token cannot both win.
   */
  async redeem(id: string, sessionId: string, now: number): Promise<{ authSessionId: string | null } | undefined> {
    const [, deleted] = await this.db.batch([
      this.db
        .prepare(
          `INSERT INTO auth_session_sockets (auth_session_id, session_id, opened_at)
           SELECT auth_session_id, session_id, ?1 FROM socket_tokens
           WHERE ${USABLE_TOKEN} AND auth_session_id IS NOT NULL
           ON CONFLICT DO NOTHING`,
        )
        .bind(now, id, sessionId),
      this.db.prepare(`DELETE FROM socket_tokens WHERE ${USABLE_TOKEN} RETURNING auth_session_id`).bind(now, id, sessionId),
    ]);
    const row = deleted?.results[0];
    return row === undefined ? undefined : { authSessionId: RedeemedRow.parse(row).auth_session_id };
  }
}
