import { type LinearConnection, LookoutError, sha256Hex } from "@lookout/protocol";
import { z } from "zod";
import { type SecretSlot, cipherFor } from "../../auth/secrets-cipher";
import type { Env } from "../../env";

/** Linear's OAuth endpoints, overridable for a fake in tests. */
export const LINEAR_AUTHORIZE_URL = "https://linear.app/oauth/authorize";
export const LINEAR_TOKEN_URL = "https://api.linear.app/oauth/token";
/** What the app asks for: act as itself (`actor=app`), and be mentionable and assignable. */
export const LINEAR_SCOPES = ["read", "write", "app:assignable", "app:mentionable"] as const;
/** A token this close to expiring is refreshed before use. */
const REFRESH_MARGIN_MS = 5 * 60_000;
/** How long an install may take between leaving for Linear and coming back. */
export const OAUTH_STATE_TTL_MS = 10 * 60_000;

/** Linear's answer to a code or refresh-token exchange. */
export const LinearTokenResponse = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().positive().optional(),
  scope: z.union([z.string(), z.array(z.string())]).optional(),
});
export type LinearTokenResponse = z.infer<typeof LinearTokenResponse>;

const Row = z.object({
  organization_id: z.string(),
  organization_name: z.string(),
  app_user_id: z.string().nullable(),
  access_ciphertext: z.string(),
  access_iv: z.string(),
  refresh_ciphertext: z.string().nullable(),
  refresh_iv: z.string().nullable(),
  key_version: z.string(),
  expires_at: z.number().nullable(),
  scopes: z.string(),
  created_at: z.number(),
});
type Row = z.infer<typeof Row>;

export interface NewInstallation {
  organizationId: string;
  organizationName: string;
  appUserId: string | null;
  tokens: LinearTokenResponse;
  installedBy: string | null;
}

function slotOf(organizationId: string, which: "access" | "refresh"): SecretSlot {
  return { scope: "linear-installation", name: `${organizationId}:${which}` };
}

function scopesOf(tokens: LinearTokenResponse): string[] {
  const scope = tokens.scope ?? [];
  return (Array.isArray(scope) ? scope : scope.split(/[ ,]+/)).filter((entry) => entry.length > 0);
}

function toConnection(row: Row): LinearConnection {
  return {
    organizationId: row.organization_id,
    organizationName: row.organization_name,
    appUserId: row.app_user_id,
    scopes: JSON.parse(row.scopes) as string[],
    connectedAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/**
 * The Linear workspaces Lookout is installed in (D1 `linear_installations`). Tokens go in sealed
 * with the secrets cipher, bound to their row and kind, and come out only to call Linear; an
 * access token about to expire is exchanged with its refresh token first, and the new pair sealed.
 */
export class LinearInstallations {
  constructor(private readonly env: Env) {}

  /** Whether `organizationId` installed Lookout (whatever state its tokens are in). */
  async has(organizationId: string): Promise<boolean> {
    const row = await this.env.DB.prepare("SELECT 1 AS found FROM linear_installations WHERE organization_id = ?")
      .bind(organizationId)
      .first<{ found: number }>();
    return row !== null;
  }

  async list(): Promise<LinearConnection[]> {
    const { results } = await this.env.DB.prepare("SELECT * FROM linear_installations ORDER BY organization_name").all();
    return results.map((raw) => toConnection(Row.parse(raw)));
  }

  async save(installation: NewInstallation, now: number): Promise<void> {
    const cipher = await cipherFor(this.env.SECRETS_ENCRYPTION_KEYS);
    const { tokens, organizationId } = installation;
    const access = await cipher.seal(tokens.access_token, slotOf(organizationId, "access"));
    const refresh = tokens.refresh_token ? await cipher.seal(tokens.refresh_token, slotOf(organizationId, "refresh")) : null;
    // One key version for both: the refresh token is sealed right after the access token, under the same current key.
    await this.env.DB.prepare(
      `INSERT INTO linear_installations (organization_id, organization_name, app_user_id, access_ciphertext, access_iv,
         refresh_ciphertext, refresh_iv, key_version, expires_at, scopes, installed_by, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
       ON CONFLICT (organization_id) DO UPDATE SET organization_name = excluded.organization_name, app_user_id = excluded.app_user_id,
         access_ciphertext = excluded.access_ciphertext, access_iv = excluded.access_iv, refresh_ciphertext = excluded.refresh_ciphertext,
         refresh_iv = excluded.refresh_iv, key_version = excluded.key_version, expires_at = excluded.expires_at, scopes = excluded.scopes,
         installed_by = excluded.installed_by, updated_at = excluded.updated_at`,
    )
      .bind(
        organizationId,
        installation.organizationName,
        installation.appUserId,
        access.ciphertext,
        access.iv,
        refresh?.ciphertext ?? null,
        refresh?.iv ?? null,
        access.keyVersion,
        tokens.expires_in ? now + tokens.expires_in * 1000 : null,
        JSON.stringify(scopesOf(tokens)),
        installation.installedBy,
        now,
      )
      .run();
  }

  async remove(organizationId: string): Promise<boolean> {
    const result = await this.env.DB.prepare("DELETE FROM linear_installations WHERE organization_id = ?").bind(organizationId).run();
    return result.meta.changes > 0;
  }

  /**
   * A usable access token for `organizationId`, refreshed first when it expires within five
   * minutes. No installation is `LINEAR_NOT_CONNECTED`.
   */
  async accessToken(organizationId: string, now: number): Promise<string> {
    const raw = await this.env.DB.prepare("SELECT * FROM linear_installations WHERE organization_id = ?").bind(organizationId).first();
    if (!raw) {
      throw new LookoutError(
        "LINEAR_NOT_CONNECTED",
        `Linear workspace ${organizationId} has not installed Lookout; connect it under Settings → Linear.`,
      );
    }
    const row = Row.parse(raw);
    const cipher = await cipherFor(this.env.SECRETS_ENCRYPTION_KEYS);
    const sealed = { keyVersion: row.key_version };
    const accessToken = await cipher.open(
      { ...sealed, ciphertext: row.access_ciphertext, iv: row.access_iv },
      slotOf(organizationId, "access"),
    );
    if (row.expires_at === null || row.expires_at - now > REFRESH_MARGIN_MS) return accessToken;
    if (row.refresh_ciphertext === null || row.refresh_iv === null) {
      throw new LookoutError(
        "LINEAR_NOT_CONNECTED",
        "The Linear access token expired and there is no refresh token; connect Linear again.",
      );
    }
    const refreshToken = await cipher.open(
      { ...sealed, ciphertext: row.refresh_ciphertext, iv: row.refresh_iv },
      slotOf(organizationId, "refresh"),
    );
    const tokens = await exchangeToken(this.env, { grant_type: "refresh_token", refresh_token: refreshToken });
    await this.save(
      {
        organizationId,
        organizationName: row.organization_name,
        appUserId: row.app_user_id,
        tokens: { ...tokens, refresh_token: tokens.refresh_token ?? refreshToken },
        installedBy: null,
      },
      now,
    );
    return tokens.access_token;
  }

  /** Starts an install: a one-use state bound to the person installing. */
  async newState(userId: string, now: number): Promise<string> {
    const state = (await sha256Hex(`${userId}:${crypto.randomUUID()}`)).slice(0, 40);
    await this.env.DB.batch([
      this.env.DB.prepare("DELETE FROM linear_oauth_states WHERE expires_at < ?").bind(now),
      this.env.DB.prepare("INSERT INTO linear_oauth_states (state, user_id, expires_at) VALUES (?1, ?2, ?3)").bind(
        state,
        userId,
        now + OAUTH_STATE_TTL_MS,
      ),
    ]);
    return state;
  }

  /** Uses a state up: true only once, for the person who started the install, before it expires. */
  async consumeState(state: string, userId: string, now: number): Promise<boolean> {
    const result = await this.env.DB.prepare("DELETE FROM linear_oauth_states WHERE state = ?1 AND user_id = ?2 AND expires_at >= ?3")
      .bind(state, userId, now)
      .run();
    return result.meta.changes > 0;
  }
}

/** The OAuth client's credentials; missing ones fail closed, naming what to set. */
export function oauthClient(env: Env): { clientId: string; clientSecret: string } {
  if (!env.LINEAR_CLIENT_ID || !env.LINEAR_CLIENT_SECRET) {
    throw new LookoutError(
      "SERVICE_NOT_CONFIGURED",
      "Linear is not set up: set the LINEAR_CLIENT_ID and LINEAR_CLIENT_SECRET secrets from your Linear OAuth application.",
    );
  }
  return { clientId: env.LINEAR_CLIENT_ID, clientSecret: env.LINEAR_CLIENT_SECRET };
}

/** Trades a code or a refresh token at Linear's token endpoint. */
export async function exchangeToken(
  env: Env,
  grant: { grant_type: "authorization_code"; code: string; redirect_uri: string } | { grant_type: "refresh_token"; refresh_token: string },
): Promise<LinearTokenResponse> {
  const { clientId, clientSecret } = oauthClient(env);
  let response: Response;
  try {
    response = await fetch(env.LINEAR_OAUTH_TOKEN_URL ?? LINEAR_TOKEN_URL, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ ...grant, client_id: clientId, client_secret: clientSecret }).toString(),
    });
  } catch (error) {
    throw new LookoutError(
      "LINEAR_UPSTREAM",
      `Linear's token endpoint is unreachable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!response.ok) {
    throw new LookoutError(
      "LINEAR_UPSTREAM",
      `Linear refused the token ${grant.grant_type === "refresh_token" ? "refresh" : "exchange"} (${response.status}).`,
    );
  }
  const parsed = LinearTokenResponse.safeParse(await response.json().catch(() => null));
  if (!parsed.success) throw new LookoutError("LINEAR_UPSTREAM", "Linear's token endpoint answered without an access token.");
  return parsed.data;
}
