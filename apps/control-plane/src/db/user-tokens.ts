import { z } from "zod";
import { cipherFor } from "../auth/secrets-cipher";

/** A user's token at a provider, as the code that uses it sees it. */
export interface UserToken {
  accessToken: string;
  refreshToken: string | null;
  /** Milliseconds since the epoch; null when the token does not expire. */
  expiresAt: number | null;
  refreshExpiresAt: number | null;
  scopes: string;
}

const Row = z.object({
  ciphertext: z.string(),
  iv: z.string(),
  key_version: z.string(),
  refresh_ciphertext: z.string().nullable(),
  refresh_iv: z.string().nullable(),
  expires_at: z.number().nullable(),
  refresh_expires_at: z.number().nullable(),
  scopes: z.string(),
});

/**
 * Users' own provider tokens (GitHub sign-in), sealed with the secrets cipher and its versioned
 * keys. The slot binds each value to its user and provider (scope `user:<id>`, which no repository
 * id can spell because ids have no ':'), so a ciphertext moved to another row fails to open.
 */
export class UserTokenStore {
  constructor(
    private readonly db: D1Database,
    private readonly keysConfig: string | undefined,
  ) {}

  async put(userId: string, provider: string, token: UserToken, now: number = Date.now()): Promise<void> {
    const cipher = await cipherFor(this.keysConfig);
    const access = await cipher.seal(token.accessToken, slot(userId, provider, "access"));
    const refresh = token.refreshToken === null ? null : await cipher.seal(token.refreshToken, slot(userId, provider, "refresh"));
    // Both values are sealed under the current key, so one key_version describes the row.
    await this.db
      .prepare(
        `INSERT INTO user_tokens (user_id, provider, ciphertext, iv, key_version, refresh_ciphertext, refresh_iv, expires_at, refresh_expires_at, scopes, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (user_id, provider) DO UPDATE SET ciphertext = excluded.ciphertext, iv = excluded.iv, key_version = excluded.key_version,
           refresh_ciphertext = excluded.refresh_ciphertext, refresh_iv = excluded.refresh_iv, expires_at = excluded.expires_at,
           refresh_expires_at = excluded.refresh_expires_at, scopes = excluded.scopes, updated_at = excluded.updated_at`,
      )
      .bind(
        userId,
        provider,
        access.ciphertext,
        access.iv,
        access.keyVersion,
        refresh?.ciphertext ?? null,
        refresh?.iv ?? null,
        token.expiresAt,
        token.refreshExpiresAt,
        token.scopes,
        now,
      )
      .run();
  }

  async get(userId: string, provider: string): Promise<UserToken | null> {
    const found = await this.db
      .prepare(
        "SELECT ciphertext, iv, key_version, refresh_ciphertext, refresh_iv, expires_at, refresh_expires_at, scopes FROM user_tokens WHERE user_id = ? AND provider = ?",
      )
      .bind(userId, provider)
      .first();
    if (!found) return null;
    const row = Row.parse(found);
    const cipher = await cipherFor(this.keysConfig);
    const accessToken = await cipher.open(
      { ciphertext: row.ciphertext, iv: row.iv, keyVersion: row.key_version },
      slot(userId, provider, "access"),
    );
    const refreshToken =
      row.refresh_ciphertext && row.refresh_iv
        ? await cipher.open(
            { ciphertext: row.refresh_ciphertext, iv: row.refresh_iv, keyVersion: row.key_version },
            slot(userId, provider, "refresh"),
          )
        : null;
    return { accessToken, refreshToken, expiresAt: row.expires_at, refreshExpiresAt: row.refresh_expires_at, scopes: row.scopes };
  }

  async remove(userId: string, provider: string): Promise<void> {
    await this.db.prepare("DELETE FROM user_tokens WHERE user_id = ? AND provider = ?").bind(userId, provider).run();
  }
}

function slot(userId: string, provider: string, kind: "access" | "refresh"): { scope: string; name: string } {
  return { scope: `user:${userId}`, name: `${provider}_${kind}_token` };
}
