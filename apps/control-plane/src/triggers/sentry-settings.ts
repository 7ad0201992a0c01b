import { z } from "zod";
import { LookoutError, type PutSentrySettingsRequest, SentryConditions } from "@lookout/protocol";
import { type SealedSecret, type SecretSlot, cipherFor } from "../auth/secrets-cipher";
import type { Env } from "../env";

/** A Sentry automation's settings as the trigger uses them: the secret opened, conditions parsed. */
export interface SentrySettings {
  automationId: string;
  clientSecret: string;
  conditions: SentryConditions;
  updatedAt: number;
}

export interface SentrySettingsSummary {
  automationId: string;
  conditions: SentryConditions;
  updatedAt: number;
}

const Row = z.object({
  automation_id: z.string(),
  secret_ciphertext: z.string(),
  secret_iv: z.string(),
  secret_key_version: z.string(),
  conditions: z.string(),
  updated_at: z.number(),
});
type Row = z.infer<typeof Row>;

/** The cipher slot a Sentry secret is bound to: a ciphertext copied to another automation's row fails to open. */
function slotOf(automationId: string): SecretSlot {
  return { scope: "sentry-trigger", name: automationId };
}

/**
 * Sentry trigger settings in D1 `sentry_triggers`. The client secret goes in sealed with the
 * secrets cipher and comes out only to verify a delivery; a value sealed under an older key is
 * re-sealed under the current one when it is next opened, so key rotation reaches these rows too.
 */
export class SentrySettingsStore {
  constructor(
    private readonly db: D1Database,
    private readonly keysConfig: string | undefined,
  ) {}

  static fromEnv(env: Pick<Env, "DB" | "SECRETS_ENCRYPTION_KEYS">): SentrySettingsStore {
    return new SentrySettingsStore(env.DB, env.SECRETS_ENCRYPTION_KEYS);
  }

  /** The settings without the secret, for the dashboard; null when none are saved. */
  async summary(automationId: string): Promise<SentrySettingsSummary | null> {
    const row = await this.row(automationId);
    return row ? { automationId, conditions: parseConditions(row), updatedAt: row.updated_at } : null;
  }

  /** The settings with the secret opened, for verifying a delivery; null when none are saved. */
  async open(automationId: string): Promise<SentrySettings | null> {
    const row = await this.row(automationId);
    if (!row) return null;
    const cipher = await cipherFor(this.keysConfig);
    const sealed: SealedSecret = { ciphertext: row.secret_ciphertext, iv: row.secret_iv, keyVersion: row.secret_key_version };
    const clientSecret = await cipher.open(sealed, slotOf(automationId));
    if (sealed.keyVersion !== cipher.currentVersion) {
      const resealed = await cipher.seal(clientSecret, slotOf(automationId));
      // Only if the row still holds what was read: a concurrent write (already current) wins.
      await this.db
        .prepare(
          `UPDATE sentry_triggers SET secret_ciphertext = ?, secret_iv = ?, secret_key_version = ?
           WHERE automation_id = ? AND secret_iv = ? AND secret_key_version = ?`,
        )
        .bind(resealed.ciphertext, resealed.iv, resealed.keyVersion, automationId, sealed.iv, sealed.keyVersion)
        .run();
    }
    return { automationId, clientSecret, conditions: parseConditions(row), updatedAt: row.updated_at };
  }

  /**
   * Saves conditions and, when given, a new client secret. The first save must carry the secret:
   * a Sentry automation without one refuses every delivery.
   */
  async put(automationId: string, request: PutSentrySettingsRequest, now: number = Date.now()): Promise<SentrySettingsSummary> {
    const conditions = JSON.stringify(request.conditions);
    if (request.clientSecret === undefined) {
      const result = await this.db
        .prepare("UPDATE sentry_triggers SET conditions = ?, updated_at = ? WHERE automation_id = ?")
        .bind(conditions, now, automationId)
        .run();
      if (result.meta.changes === 0) {
        throw new LookoutError(
          "VALIDATION_FAILED",
          "Send clientSecret: the Sentry integration's Client Secret is needed to verify its deliveries.",
        );
      }
    } else {
      const sealed = await (await cipherFor(this.keysConfig)).seal(request.clientSecret, slotOf(automationId));
      await this.db
        .prepare(
          `INSERT INTO sentry_triggers (automation_id, secret_ciphertext, secret_iv, secret_key_version, conditions, created_at, updated_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
           ON CONFLICT (automation_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext, secret_iv = excluded.secret_iv,
             secret_key_version = excluded.secret_key_version, conditions = excluded.conditions, updated_at = excluded.updated_at`,
        )
        .bind(automationId, sealed.ciphertext, sealed.iv, sealed.keyVersion, conditions, now)
        .run();
    }
    return { automationId, conditions: request.conditions, updatedAt: now };
  }

  private async row(automationId: string): Promise<Row | null> {
    const row = await this.db.prepare("SELECT * FROM sentry_triggers WHERE automation_id = ?").bind(automationId).first();
    return row ? Row.parse(row) : null;
  }
}

function parseConditions(row: Row): SentryConditions {
  return SentryConditions.parse(JSON.parse(row.conditions));
}
