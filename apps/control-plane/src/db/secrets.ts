import { z } from "zod";
import { type ErrorCode, Id, LookoutError, RESERVED_ENV_PREFIXES, SecretName } from "@lookout/protocol";
import { type SealedSecret, type SecretsCipher, cipherFor } from "../auth/secrets-cipher";
import type { Env } from "../env";
import { parseWith } from "../http/validate";
import { log } from "../log";

/** Largest secret value, in UTF-8 bytes. */
export const MAX_SECRET_VALUE_BYTES = 16 * 1024;
/** Most secrets one scope (global, or one repository) may hold. */
export const MAX_SECRETS_PER_SCOPE = 50;
/** Rows re-sealed per D1 batch by `reencryptAll`. */
const RESEAL_BATCH_SIZE = 50;

/**
 * Names a secret may not take because the sandbox's process environment needs them to be what the
 * system set: overriding `PATH` or `LD_PRELOAD` changes which programs the agent runs.
 */
const RESERVED_NAMES = new Set(["PATH", "HOME", "USER", "SHELL", "PWD", "TMPDIR", "LD_PRELOAD", "LD_LIBRARY_PATH", "NODE_OPTIONS"]);

/** The `scope` column: `""` is global, anything else a repository id. */
const GLOBAL_SCOPE_KEY = "";

export type SecretScope = { kind: "global" } | { kind: "repository"; repositoryId: string };

export const GLOBAL_SECRETS: SecretScope = { kind: "global" };

export interface ReencryptResult {
  /** Rows now sealed under `keyVersion` that were not before. */
  resealed: number;
  /** Rows that could not be opened (damaged, or sealed under a key no longer listed); set them again. */
  failed: { scope: string | null; name: string; code: ErrorCode }[];
  keyVersion: string;
}

export interface SecretSummary {
  name: string;
  updatedAt: number;
}

const SecretRow = z.object({
  scope: z.string(),
  name: z.string(),
  ciphertext: z.string(),
  iv: z.string(),
  key_version: z.string(),
  updated_at: z.number(),
});
type SecretRow = z.infer<typeof SecretRow>;

const SecretSummaryRow = z.object({ name: z.string(), updated_at: z.number() });

/**
 * Encrypted secrets in D1 `secrets`: global ones and per-repository ones. Values go in sealed and
 * come out only through `resolveForSandbox`, for the sandbox that needs them; listing returns names.
 * Keys are loaded lazily, so listing and deleting work even while the key configuration is broken.
 */
export class SecretStore {
  constructor(
    private readonly db: D1Database,
    private readonly keysConfig: string | undefined,
  ) {}

  static fromEnv(env: Pick<Env, "DB" | "SECRETS_ENCRYPTION_KEYS">): SecretStore {
    return new SecretStore(env.DB, env.SECRETS_ENCRYPTION_KEYS);
  }

  async list(scope: SecretScope): Promise<SecretSummary[]> {
    const { results } = await this.db
      .prepare("SELECT name, updated_at FROM secrets WHERE scope = ? ORDER BY name")
      .bind(scopeKey(scope))
      .all();
    return results.map((row) => {
      const r = SecretSummaryRow.parse(row);
      return { name: r.name, updatedAt: r.updated_at };
    });
  }

  /**
   * Sets a secret, sealed under the current key whatever key sealed its previous value, so every
   * write also completes a rotation for its row. The scope's size limit is checked in the same
   * statement that writes, so two concurrent writes cannot both squeeze past it.
   */
  async put(scope: SecretScope, name: string, value: string, now: number = Date.now()): Promise<void> {
    assertWritableName(name);
    if (new TextEncoder().encode(value).byteLength > MAX_SECRET_VALUE_BYTES) {
      throw new LookoutError("VALIDATION_FAILED", `Secret values are limited to ${MAX_SECRET_VALUE_BYTES} bytes.`);
    }
    if (value.includes("\0")) {
      throw new LookoutError("VALIDATION_FAILED", "Secret values become environment variables, which cannot hold NUL.");
    }
    const slot = { scope: scopeKey(scope), name };
    const sealed = await (await this.cipher()).seal(value, slot);
    const result = await this.db
      .prepare(
        `INSERT INTO secrets (scope, name, ciphertext, iv, key_version, created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6
         WHERE (SELECT COUNT(*) FROM secrets WHERE scope = ?1) < ?7
            OR EXISTS (SELECT 1 FROM secrets WHERE scope = ?1 AND name = ?2)
         ON CONFLICT (scope, name) DO UPDATE SET
           ciphertext = excluded.ciphertext, iv = excluded.iv, key_version = excluded.key_version,
           updated_at = excluded.updated_at`,
      )
      .bind(slot.scope, slot.name, sealed.ciphertext, sealed.iv, sealed.keyVersion, now, MAX_SECRETS_PER_SCOPE)
      .run();
    if (result.meta.changes === 0) {
      throw new LookoutError("CONFLICT", `A scope holds at most ${MAX_SECRETS_PER_SCOPE} secrets; delete one first.`);
    }
  }

  async remove(scope: SecretScope, name: string): Promise<void> {
    const result = await this.db.prepare("DELETE FROM secrets WHERE scope = ? AND name = ?").bind(scopeKey(scope), name).run();
    if (result.meta.changes === 0) throw new LookoutError("SECRET_NOT_FOUND", `No secret is named "${name}" here.`);
  }

  /**
   * The environment variables a sandbox for `repositoryId` gets: global secrets, overridden by the
   * repository's own. Any value that cannot be opened fails the whole call, so a sandbox never
   * starts with a silently missing secret.
   */
  async resolveForSandbox(repositoryId: string): Promise<Record<string, string>> {
    const repositoryScope = scopeKey({ kind: "repository", repositoryId });
    const { results } = await this.db
      .prepare(
        `SELECT scope, name, ciphertext, iv, key_version, updated_at FROM secrets
         WHERE scope IN (?1, ?2) ORDER BY scope = ?2, name`,
      )
      .bind(GLOBAL_SCOPE_KEY, repositoryScope)
      .all();
    const rows = results.map((row) => SecretRow.parse(row));
    if (rows.length === 0) return {};
    const cipher = await this.cipher();
    const env: Record<string, string> = {};
    // Rows arrive global first, so a repository's value overwrites the global one of the same name.
    for (const row of rows) env[row.name] = await cipher.open(sealedOf(row), row);
    return env;
  }

  /**
   * Re-seals every value not sealed under the current key, so an old key can be dropped from
   * `SECRETS_ENCRYPTION_KEYS`. Each update only applies if the row still holds the value that was
   * read, so a concurrent write (already under the current key) is never overwritten. A value that
   * cannot be opened is skipped and reported, so one damaged row does not block the rotation of
   * all the others; it has to be set again.
   */
  async reencryptAll(now: number = Date.now()): Promise<ReencryptResult> {
    const cipher = await this.cipher();
    const { results } = await this.db
      .prepare("SELECT scope, name, ciphertext, iv, key_version, updated_at FROM secrets WHERE key_version != ?")
      .bind(cipher.currentVersion)
      .all();
    const rows = results.map((row) => SecretRow.parse(row));
    const failed: ReencryptResult["failed"] = [];
    let resealed = 0;
    for (let start = 0; start < rows.length; start += RESEAL_BATCH_SIZE) {
      const statements: D1PreparedStatement[] = [];
      for (const row of rows.slice(start, start + RESEAL_BATCH_SIZE)) {
        let plaintext: string;
        try {
          plaintext = await cipher.open(sealedOf(row), row);
        } catch (error) {
          if (!(error instanceof LookoutError)) throw error;
          failed.push({ scope: row.scope === GLOBAL_SCOPE_KEY ? null : row.scope, name: row.name, code: error.code });
          continue;
        }
        const sealed = await cipher.seal(plaintext, row);
        statements.push(
          this.db
            .prepare(
              `UPDATE secrets SET ciphertext = ?, iv = ?, key_version = ?, updated_at = ?
               WHERE scope = ? AND name = ? AND key_version = ? AND iv = ?`,
            )
            .bind(sealed.ciphertext, sealed.iv, sealed.keyVersion, now, row.scope, row.name, row.key_version, row.iv),
        );
      }
      if (statements.length === 0) continue;
      for (const result of await this.db.batch(statements)) resealed += result.meta.changes;
    }
    if (failed.length > 0) log.warn("some secrets could not be re-sealed", { failed });
    return { resealed, failed, keyVersion: cipher.currentVersion };
  }

  private cipher(): Promise<SecretsCipher> {
    return cipherFor(this.keysConfig);
  }
}

function scopeKey(scope: SecretScope): string {
  if (scope.kind === "global") return GLOBAL_SCOPE_KEY;
  // A repository id is never empty, so no repository scope can alias the global one.
  return parseWith(Id, scope.repositoryId);
}

function assertWritableName(name: string): void {
  parseWith(SecretName, name);
  if (RESERVED_NAMES.has(name) || RESERVED_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) {
    throw new LookoutError("VALIDATION_FAILED", `"${name}" is reserved for the sandbox's own environment; pick another name.`);
  }
}

function sealedOf(row: SecretRow): SealedSecret {
  return { ciphertext: row.ciphertext, iv: row.iv, keyVersion: row.key_version };
}
