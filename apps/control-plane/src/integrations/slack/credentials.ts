import { z } from "zod";
import { type ErrorCode, LookoutError } from "@lookout/protocol";
import { type SecretSlot, cipherFor } from "../../auth/secrets-cipher";
import type { Env } from "../../env";

/**
 * Slack tokens pasted in Settings → Slack (D1 `slack_credentials`, migration 0010). The bot token,
 * signing secret and app-level token are sealed together as one value under
 * `SECRETS_ENCRYPTION_KEYS`; the row's other columns are what the dashboard may show. Nothing here
 * returns a token except `open`, which only the Worker's own Slack paths call.
 */

/** The tokens themselves. */
export interface SlackTokens {
  botToken: string;
  signingSecret: string;
  /** The app-level token (`xapp-…`) the Socket Mode relay connects with; null for the Events API. */
  appToken: string | null;
}

/** What may be shown about stored tokens: never a token, only its last four characters. */
export interface StoredSlackCredentials {
  botTokenLast4: string;
  appTokenLast4: string | null;
  teamId: string;
  teamName: string;
  botUserId: string;
  botName: string;
  updatedBy: string;
  updatedAt: number;
}

/** Where the sealed value lives, bound into its ciphertext so it opens nowhere else. */
const SLOT: SecretSlot = { scope: "slack", name: "credentials" };

const SealedTokens = z.object({ botToken: z.string().min(1), signingSecret: z.string().min(1), appToken: z.string().min(1).nullable() });

const Row = z.object({
  ciphertext: z.string(),
  iv: z.string(),
  key_version: z.string(),
  bot_token_last4: z.string(),
  app_token_last4: z.string().nullable(),
  team_id: z.string(),
  team_name: z.string(),
  bot_user_id: z.string(),
  bot_name: z.string(),
  updated_by: z.string(),
  updated_at: z.number(),
});
type Row = z.infer<typeof Row>;

export class SlackCredentialStore {
  constructor(
    private readonly db: D1Database,
    private readonly keysConfig: string | undefined,
  ) {}

  static fromEnv(env: Pick<Env, "DB" | "SECRETS_ENCRYPTION_KEYS">): SlackCredentialStore {
    return new SlackCredentialStore(env.DB, env.SECRETS_ENCRYPTION_KEYS);
  }

  /** The stored tokens' description, read without the keys (so the dashboard works while they are broken). */
  async describe(): Promise<StoredSlackCredentials | null> {
    const row = await this.row();
    return row ? describeRow(row) : null;
  }

  /** The stored tokens, opened; null when none are stored. A value that cannot be opened throws. */
  async open(): Promise<(SlackTokens & StoredSlackCredentials) | null> {
    const row = await this.row();
    if (!row) return null;
    const cipher = await cipherFor(this.keysConfig);
    const plaintext = await cipher.open({ ciphertext: row.ciphertext, iv: row.iv, keyVersion: row.key_version }, SLOT);
    const tokens = SealedTokens.safeParse(JSON.parse(plaintext));
    if (!tokens.success)
      throw new LookoutError("INTERNAL", "The stored Slack tokens are damaged; paste them again under Settings → Slack.");
    return { ...tokens.data, ...describeRow(row) };
  }

  /** Seals and stores the tokens with the workspace `auth.test` named, replacing any stored before. */
  async save(
    tokens: SlackTokens,
    workspace: Pick<StoredSlackCredentials, "teamId" | "teamName" | "botUserId" | "botName">,
    updatedBy: string,
    now: number,
  ): Promise<StoredSlackCredentials> {
    const cipher = await cipherFor(this.keysConfig);
    const sealed = await cipher.seal(JSON.stringify(tokens), SLOT);
    const stored: StoredSlackCredentials = {
      botTokenLast4: tokens.botToken.slice(-4),
      appTokenLast4: tokens.appToken ? tokens.appToken.slice(-4) : null,
      ...workspace,
      updatedBy,
      updatedAt: now,
    };
    await this.db
      .prepare(
        `INSERT INTO slack_credentials (id, ciphertext, iv, key_version, bot_token_last4, app_token_last4, team_id, team_name,
           bot_user_id, bot_name, updated_by, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET ciphertext = excluded.ciphertext, iv = excluded.iv, key_version = excluded.key_version,
           bot_token_last4 = excluded.bot_token_last4, app_token_last4 = excluded.app_token_last4, team_id = excluded.team_id,
           team_name = excluded.team_name, bot_user_id = excluded.bot_user_id, bot_name = excluded.bot_name,
           updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      )
      .bind(
        sealed.ciphertext,
        sealed.iv,
        sealed.keyVersion,
        stored.botTokenLast4,
        stored.appTokenLast4,
        stored.teamId,
        stored.teamName,
        stored.botUserId,
        stored.botName,
        updatedBy,
        now,
      )
      .run();
    return stored;
  }

  /**
   * Re-seals the stored tokens under the newest key (part of `POST /api/secrets/rotate`), so an old
   * key can be dropped. Only applies if the row still holds what was read, so tokens pasted in the
   * meantime (already under the newest key) are never overwritten. Tokens that cannot be opened are
   * reported, not thrown: they have to be pasted again.
   */
  async reseal(now: number): Promise<{ resealed: number; failed: { scope: string; name: string; code: ErrorCode }[] }> {
    const row = await this.row();
    const cipher = await cipherFor(this.keysConfig);
    if (!row || row.key_version === cipher.currentVersion) return { resealed: 0, failed: [] };
    let plaintext: string;
    try {
      plaintext = await cipher.open({ ciphertext: row.ciphertext, iv: row.iv, keyVersion: row.key_version }, SLOT);
    } catch (error) {
      if (!(error instanceof LookoutError)) throw error;
      return { resealed: 0, failed: [{ ...SLOT, code: error.code }] };
    }
    const sealed = await cipher.seal(plaintext, SLOT);
    const result = await this.db
      .prepare(
        `UPDATE slack_credentials SET ciphertext = ?1, iv = ?2, key_version = ?3, updated_at = ?4
         WHERE id = 1 AND key_version = ?5 AND iv = ?6`,
      )
      .bind(sealed.ciphertext, sealed.iv, sealed.keyVersion, now, row.key_version, row.iv)
      .run();
    return { resealed: result.meta.changes, failed: [] };
  }

  /** Forgets the stored tokens; false when none were stored. */
  async remove(): Promise<boolean> {
    const result = await this.db.prepare("DELETE FROM slack_credentials WHERE id = 1").run();
    return result.meta.changes > 0;
  }

  private async row(): Promise<Row | null> {
    const row = await this.db.prepare("SELECT * FROM slack_credentials WHERE id = 1").first();
    return row ? Row.parse(row) : null;
  }
}

function describeRow(row: Row): StoredSlackCredentials {
  return {
    botTokenLast4: row.bot_token_last4,
    appTokenLast4: row.app_token_last4,
    teamId: row.team_id,
    teamName: row.team_name,
    botUserId: row.bot_user_id,
    botName: row.bot_name,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  };
}
