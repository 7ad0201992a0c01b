import { sha256Hex } from "@lookout/protocol";
import type { ExternalActor } from "../triggers/types";

/** A Lookout user as triggers attribute work to them. */
export interface LinkedUser {
  userId: string;
  name: string;
  /** True for a user created for an unknown person: cannot sign in, never an admin. */
  limited: boolean;
}

/**
 * People on other platforms (Slack, GitHub, Linear, Sentry) linked to Lookout users. An unknown
 * person gets a limited user of their own the first time they trigger work, so what they asked for
 * is attributed to them and can later be linked to a real account.
 */
export class ExternalIdentityStore {
  constructor(private readonly db: D1Database) {}

  async find(provider: ExternalActor["provider"], externalId: string): Promise<LinkedUser | null> {
    const row = await this.db
      .prepare(
        `SELECT u.id, u.name, u.limited FROM external_identities e JOIN users u ON u.id = e.user_id
         WHERE e.provider = ? AND e.external_id = ?`,
      )
      .bind(provider, externalId)
      .first<{ id: string; name: string; limited: number }>();
    return row ? { userId: row.id, name: row.name, limited: row.limited === 1 } : null;
  }

  /** Links an identity to an existing user (e.g. after that person signs in and proves it). */
  async link(actor: ExternalActor, userId: string, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO external_identities (provider, external_id, user_id, display_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (provider, external_id) DO UPDATE SET user_id = excluded.user_id, display_name = excluded.display_name`,
      )
      .bind(actor.provider, actor.externalId, userId, actor.displayName, now)
      .run();
  }

  /**
   * The user behind `actor`, creating a limited one when the identity is unknown. The user's id is
   * derived from the identity, so two deliveries from the same new person create one user.
   */
  async resolve(actor: ExternalActor, now: number): Promise<LinkedUser> {
    const known = await this.find(actor.provider, actor.externalId);
    if (known) return known;
    const userId = `ext_${(await sha256Hex(`${actor.provider}\n${actor.externalId}`)).slice(0, 24)}`;
    const name = actor.displayName.trim().slice(0, 100) || `${actor.provider} user`;
    await this.db.batch([
      this.db
        .prepare(
          "INSERT INTO users (id, name, role, limited, created_at, updated_at) VALUES (?1, ?2, 'member', 1, ?3, ?3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(userId, name, now),
      this.db
        .prepare(
          `INSERT INTO external_identities (provider, external_id, user_id, display_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
           ON CONFLICT (provider, external_id) DO NOTHING`,
        )
        .bind(actor.provider, actor.externalId, userId, name, now),
    ]);
    const linked = await this.find(actor.provider, actor.externalId);
    if (!linked) throw new Error(`identity ${actor.provider}:${actor.externalId} was not linked`);
    return linked;
  }
}
