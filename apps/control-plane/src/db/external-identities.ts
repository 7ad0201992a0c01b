import { sha256Hex } from "@lookout/protocol";
import type { ExternalActor } from "../triggers/types";

/** A Lookout user as triggers attribute work to them. */
export interface LinkedUser {
  userId: string;
  name: string;
  /** True for a user created for an unknown person: cannot sign in, never an admin. */
  limited: boolean;
  avatarUrl: string | null;
}

/** Longest avatar URL kept (the protocol's `Author.avatarUrl` limit). */
const MAX_AVATAR_URL_CHARS = 2000;

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
        `SELECT u.id, u.name, u.limited, u.avatar_url FROM external_identities e JOIN users u ON u.id = e.user_id
         WHERE e.provider = ? AND e.external_id = ?`,
      )
      .bind(provider, externalId)
      .first<{ id: string; name: string; limited: number; avatar_url: string | null }>();
    return row ? { userId: row.id, name: row.name, limited: row.limited === 1, avatarUrl: row.avatar_url } : null;
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
    const avatarUrl = avatarOf(actor);
    const known = await this.find(actor.provider, actor.externalId);
    if (known) return avatarUrl ? this.refreshAvatar(known, avatarUrl, now) : known;
    const userId = `ext_${(await sha256Hex(`${actor.provider}\n${actor.externalId}`)).slice(0, 24)}`;
    const name = actor.displayName.trim().slice(0, 100) || `${actor.provider} user`;
    await this.db.batch([
      this.db
        .prepare(
          `INSERT INTO users (id, name, avatar_url, role, limited, created_at, updated_at) VALUES (?1, ?2, ?3, 'member', 1, ?4, ?4)
           ON CONFLICT (id) DO NOTHING`,
        )
        .bind(userId, name, avatarUrl, now),
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

  /**
   * Keeps the platform's picture current on a user created for this person; a user who signs in
   * keeps their own picture and only gets this one while they have none.
   */
  private async refreshAvatar(known: LinkedUser, avatarUrl: string, now: number): Promise<LinkedUser> {
    if (known.avatarUrl === avatarUrl || (!known.limited && known.avatarUrl)) return known;
    await this.db
      .prepare("UPDATE users SET avatar_url = ?2, updated_at = ?3 WHERE id = ?1 AND (limited = 1 OR avatar_url IS NULL)")
      .bind(known.userId, avatarUrl, now)
      .run();
    return { ...known, avatarUrl };
  }
}

/** The actor's picture when it is an https URL of a sane length; anything else is not kept. */
function avatarOf(actor: ExternalActor): string | null {
  const url = actor.avatarUrl?.trim();
  if (!url || url.length > MAX_AVATAR_URL_CHARS || !URL.canParse(url)) return null;
  return new URL(url).protocol === "https:" ? url : null;
}
