import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LookoutError, toBase64Url } from "@lookout/protocol";
import { SecretsCipher } from "../src/auth/secrets-cipher";
import { GLOBAL_SECRETS, MAX_SECRETS_PER_SCOPE, SecretStore } from "../src/db/secrets";
import { adminCookie, call, errorCode, memberCookie, withCookie } from "./support/auth";

/** The test bindings' key list is `k2,k1`; a rotation puts a new key in front of both. */
const ORIGINAL_KEYS = env.SECRETS_ENCRYPTION_KEYS ?? "";
const K3 = toBase64Url(new Uint8Array(32).fill(7));
const ROTATED_KEYS = `k3:${K3},${ORIGINAL_KEYS}`;
const ONLY_K1 = ORIGINAL_KEYS.split(",").find((entry) => entry.startsWith("k1:")) ?? "";

interface SecretRowJson {
  scope: string;
  name: string;
  ciphertext: string;
  iv: string;
  key_version: string;
}

async function row(scope: string, name: string): Promise<SecretRowJson | null> {
  return env.DB.prepare("SELECT scope, name, ciphertext, iv, key_version FROM secrets WHERE scope = ? AND name = ?")
    .bind(scope, name)
    .first<SecretRowJson>();
}

async function rowCount(scope = ""): Promise<number> {
  const result = await env.DB.prepare("SELECT COUNT(*) AS n FROM secrets WHERE scope = ?").bind(scope).first<{ n: number }>();
  return result?.n ?? 0;
}

async function createRepository(cookie: string, name: string): Promise<string> {
  const response = await call("/api/repositories", withCookie(cookie, "POST", { kind: "local", name, path: `/srv/secrets-test/${name}` }));
  expect(response.status).toBe(201);
  const body: { repository: { id: string } } = await response.json();
  return body.repository.id;
}

let admin = "";
beforeAll(async () => {
  admin = await adminCookie();
});

describe("secrets at rest", () => {
  it("stores ciphertext, never the plaintext, sealed under the newest key", async () => {
    const value = "sk-live-plaintext-value-0123456789";
    const response = await call("/api/secrets/API_KEY", withCookie(admin, "PUT", { value }));
    expect(response.status).toBe(204);

    const stored = await row("", "API_KEY");
    expect(stored?.key_version).toBe("k2");
    expect(stored?.ciphertext).not.toContain(value);
    expect(stored?.ciphertext).not.toContain(toBase64Url(new TextEncoder().encode(value)).slice(0, 20));
    expect(stored?.iv).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(await SecretStore.fromEnv(env).resolveForSandbox("no-such-repo")).toMatchObject({ API_KEY: value });
  });

  it("uses a fresh IV for every write, so equal values do not look equal", async () => {
    await call("/api/secrets/SAME_A", withCookie(admin, "PUT", { value: "same" }));
    await call("/api/secrets/SAME_B", withCookie(admin, "PUT", { value: "same" }));
    const [a, b] = [await row("", "SAME_A"), await row("", "SAME_B")];
    expect(a?.iv).not.toBe(b?.iv);
    expect(a?.ciphertext).not.toBe(b?.ciphertext);
  });

  it("lists names and update times only", async () => {
    const value = "list-test-secret-value";
    await call("/api/secrets/LISTED", withCookie(admin, "PUT", { value }));
    const response = await call("/api/secrets", withCookie(await memberCookie()));
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(value);
    const body: { secrets: { name: string; updatedAt: number }[] } = JSON.parse(text);
    const listed = body.secrets.find((secret) => secret.name === "LISTED");
    expect(listed).toBeDefined();
    expect(Object.keys(listed ?? {}).sort()).toEqual(["name", "updatedAt"]);
  });

  it("refuses to swap a ciphertext into another row (the scope and name are authenticated)", async () => {
    const store = SecretStore.fromEnv(env);
    const repositoryId = await createRepository(admin, "aad-swap");
    await store.put(GLOBAL_SECRETS, "SWAP_SOURCE", "source-value");
    await store.put(GLOBAL_SECRETS, "SWAP_TARGET", "target-value");
    await store.put({ kind: "repository", repositoryId }, "SWAP_TARGET", "repo-value");
    const source = await row("", "SWAP_SOURCE");
    if (!source) throw new Error("source row missing");

    // Same scope, other name.
    await env.DB.prepare("UPDATE secrets SET ciphertext = ?, iv = ?, key_version = ? WHERE scope = '' AND name = 'SWAP_TARGET'")
      .bind(source.ciphertext, source.iv, source.key_version)
      .run();
    await expect(store.resolveForSandbox(repositoryId)).rejects.toMatchObject({ code: "INTERNAL" });

    // Same name, other scope; sealed under the older key so the rotation below tries to re-seal it.
    await new SecretStore(env.DB, ONLY_K1).put(GLOBAL_SECRETS, "SWAP_TARGET", "target-value");
    const globalTarget = await row("", "SWAP_TARGET");
    if (!globalTarget) throw new Error("target row missing");
    await env.DB.prepare("UPDATE secrets SET ciphertext = ?, iv = ?, key_version = ? WHERE scope = ? AND name = 'SWAP_TARGET'")
      .bind(globalTarget.ciphertext, globalTarget.iv, globalTarget.key_version, repositoryId)
      .run();
    await expect(store.resolveForSandbox(repositoryId)).rejects.toMatchObject({ code: "INTERNAL" });

    // A rotation skips and reports the damaged row instead of stopping.
    const rotation = await store.reencryptAll();
    expect(rotation.failed).toEqual([{ scope: repositoryId, name: "SWAP_TARGET", code: "INTERNAL" }]);
    expect((await row("", "SWAP_TARGET"))?.key_version).toBe("k2");
    await store.remove({ kind: "repository", repositoryId }, "SWAP_TARGET");
  });

  it("resolves global secrets overridden by the repository's own", async () => {
    const store = SecretStore.fromEnv(env);
    const repositoryId = await createRepository(admin, "resolve");
    await store.put(GLOBAL_SECRETS, "SHARED_TOKEN", "global");
    await store.put(GLOBAL_SECRETS, "ONLY_GLOBAL", "g");
    await store.put({ kind: "repository", repositoryId }, "SHARED_TOKEN", "repository");

    const resolved = await store.resolveForSandbox(repositoryId);
    expect(resolved.SHARED_TOKEN).toBe("repository");
    expect(resolved.ONLY_GLOBAL).toBe("g");
  });
});

describe("key rotation", () => {
  // Rotating back to the test bindings' own newest key leaves the table as the other tests expect.
  afterAll(async () => {
    const rollback = await new SecretStore(env.DB, `${ORIGINAL_KEYS},k3:${K3}`).reencryptAll();
    expect(rollback.failed).toEqual([]);
  });

  it("opens old values after a new key is put in front, and re-seals a value when it is written", async () => {
    const sealedUnderK1 = new SecretStore(env.DB, ONLY_K1);
    await sealedUnderK1.put(GLOBAL_SECRETS, "ROTATE_ME", "before-rotation");
    expect((await row("", "ROTATE_ME"))?.key_version).toBe("k1");

    const rotated = new SecretStore(env.DB, ROTATED_KEYS);
    expect((await rotated.resolveForSandbox("none")).ROTATE_ME).toBe("before-rotation");

    const response = await call("/api/secrets/ROTATE_ME", withCookie(admin, "PUT", { value: "after-rotation" }), {
      SECRETS_ENCRYPTION_KEYS: ROTATED_KEYS,
    });
    expect(response.status).toBe(204);
    expect((await row("", "ROTATE_ME"))?.key_version).toBe("k3");
    expect((await rotated.resolveForSandbox("none")).ROTATE_ME).toBe("after-rotation");
  });

  it("POST /api/secrets/rotate re-seals every row under the newest key, so old keys can be dropped", async () => {
    const old = new SecretStore(env.DB, ONLY_K1);
    await old.put(GLOBAL_SECRETS, "BULK_ONE", "one");
    await old.put(GLOBAL_SECRETS, "BULK_TWO", "two");

    const response = await call("/api/secrets/rotate", withCookie(admin, "POST"), { SECRETS_ENCRYPTION_KEYS: ROTATED_KEYS });
    expect(response.status).toBe(200);
    const body: { resealed: number; failed: unknown[]; keyVersion: string } = await response.json();
    expect(body).toMatchObject({ keyVersion: "k3", failed: [] });
    expect(body.resealed).toBeGreaterThanOrEqual(2);

    const versions = await env.DB.prepare("SELECT DISTINCT key_version FROM secrets").all<{ key_version: string }>();
    expect(versions.results).toEqual([{ key_version: "k3" }]);
    const onlyNewKey = new SecretStore(env.DB, `k3:${K3}`);
    expect(await onlyNewKey.resolveForSandbox("none")).toMatchObject({ BULK_ONE: "one", BULK_TWO: "two" });
  });

  it("says which key is missing when a value's key was dropped too early", async () => {
    await new SecretStore(env.DB, ONLY_K1).put(GLOBAL_SECRETS, "EARLY_DROP", "x");
    const withoutK1 = new SecretStore(env.DB, `k3:${K3}`);
    await expect(withoutK1.resolveForSandbox("none")).rejects.toMatchObject({ code: "SECRET_KEY_MISSING" });
    await new SecretStore(env.DB, ROTATED_KEYS).remove(GLOBAL_SECRETS, "EARLY_DROP");
  });
});

describe("fail closed", () => {
  it.each([
    ["unset", undefined],
    ["empty", ""],
    ["without a version", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="],
    ["a short key", `k9:${toBase64Url(new Uint8Array(16))}`],
    ["not base64", "k9:!!!!"],
    ["a repeated version", `k9:${K3},k9:${K3}`],
  ])("stores nothing when SECRETS_ENCRYPTION_KEYS is %s", async (_label, keys) => {
    const before = await rowCount();
    const response = await call("/api/secrets/NEVER_STORED", withCookie(admin, "PUT", { value: "v" }), { SECRETS_ENCRYPTION_KEYS: keys });
    expect(response.status).toBe(503);
    expect(await errorCode(response)).toBe("SECRET_KEY_MISSING");
    expect(await rowCount()).toBe(before);
    expect(await row("", "NEVER_STORED")).toBeNull();
  });

  it("never puts key material in the error message", async () => {
    const material = toBase64Url(new Uint8Array(16).fill(9));
    const error: unknown = await SecretsCipher.fromConfig(`k9:${material}`).catch((e: unknown) => e);
    if (!(error instanceof LookoutError)) throw new Error("expected a LookoutError");
    expect(error.code).toBe("SECRET_KEY_MISSING");
    expect(error.message).not.toContain(material);
  });
});

describe("secret validation and limits", () => {
  it.each([
    ["1STARTS_WITH_DIGIT", "VALIDATION_FAILED"],
    ["HAS-DASH", "VALIDATION_FAILED"],
    ["LOOKOUT_SESSION_ID", "VALIDATION_FAILED"],
    ["PATH", "VALIDATION_FAILED"],
  ])("refuses the name %s and stores nothing", async (name, code) => {
    const before = await rowCount();
    const response = await call(`/api/secrets/${name}`, withCookie(admin, "PUT", { value: "v" }));
    expect(response.status).toBe(422);
    expect(await errorCode(response)).toBe(code);
    expect(await rowCount()).toBe(before);
  });

  it("refuses values over 16 KiB, counted in bytes", async () => {
    const tooBig = "é".repeat(8 * 1024 + 1);
    const response = await call("/api/secrets/TOO_BIG", withCookie(admin, "PUT", { value: tooBig }));
    expect(response.status).toBe(422);
    expect(await row("", "TOO_BIG")).toBeNull();
  });

  it(`holds at most ${MAX_SECRETS_PER_SCOPE} secrets per scope, but still updates existing ones`, async () => {
    const repositoryId = await createRepository(admin, "full-scope");
    const scope = { kind: "repository" as const, repositoryId };
    const store = SecretStore.fromEnv(env);
    for (let i = 0; i < MAX_SECRETS_PER_SCOPE; i++) await store.put(scope, `S${i}`, "v");

    await expect(store.put(scope, "ONE_TOO_MANY", "v")).rejects.toMatchObject({ code: "CONFLICT" });
    await store.put(scope, "S0", "updated");
    expect(await rowCount(repositoryId)).toBe(MAX_SECRETS_PER_SCOPE);
    expect((await store.resolveForSandbox(repositoryId)).S0).toBe("updated");
  });

  it("deletes a secret, then says it is gone", async () => {
    await call("/api/secrets/TO_DELETE", withCookie(admin, "PUT", { value: "v" }));
    expect((await call("/api/secrets/TO_DELETE", withCookie(admin, "DELETE"))).status).toBe(204);
    const again = await call("/api/secrets/TO_DELETE", withCookie(admin, "DELETE"));
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe("SECRET_NOT_FOUND");
  });

  it("only admins write secrets; members may list names", async () => {
    const member = await memberCookie();
    expect((await call("/api/secrets/MEMBER_TRY", withCookie(member, "PUT", { value: "v" }))).status).toBe(403);
    expect((await call("/api/secrets/API_KEY", withCookie(member, "DELETE"))).status).toBe(403);
    expect((await call("/api/secrets/rotate", withCookie(member, "POST"))).status).toBe(403);
    expect((await call("/api/secrets", withCookie(member))).status).toBe(200);
    expect(await row("", "MEMBER_TRY")).toBeNull();
  });
});

describe("repository-scoped secret routes", () => {
  it("sets, lists and deletes a repository's secrets", async () => {
    const repositoryId = await createRepository(admin, "scoped-routes");
    const put = await call(`/api/repositories/${repositoryId}/secrets/DEPLOY_KEY`, withCookie(admin, "PUT", { value: "deploy" }));
    expect(put.status).toBe(204);

    const list = await call(`/api/repositories/${repositoryId}/secrets`, withCookie(admin));
    const body: { secrets: { name: string }[] } = await list.json();
    expect(body.secrets.map((secret) => secret.name)).toEqual(["DEPLOY_KEY"]);
    expect((await call("/api/secrets", withCookie(admin))).status).toBe(200);
    expect(await row("", "DEPLOY_KEY")).toBeNull();

    const removed = await call(`/api/repositories/${repositoryId}/secrets/DEPLOY_KEY`, withCookie(admin, "DELETE"));
    expect(removed.status).toBe(204);
    expect(await rowCount(repositoryId)).toBe(0);
  });

  it("refuses secrets for a repository that does not exist", async () => {
    const response = await call("/api/repositories/nope/secrets/X", withCookie(admin, "PUT", { value: "v" }));
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("REPOSITORY_NOT_FOUND");
    expect(await rowCount("nope")).toBe(0);
  });
});
