import { LookoutError, fromBase64Url, toBase64Url, toBytes } from "@lookout/protocol";

/** AES-256 keys are 32 bytes. */
const KEY_BYTES = 32;
/** GCM's recommended nonce size; a fresh random one per value keeps (key, IV) pairs unique. */
const IV_BYTES = 12;
const KEY_VERSION_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Versions the additional authenticated data, so its layout can change without ambiguity. */
const AAD_PREFIX = "lookout-secret-v1";

/** One encrypted value as stored: base64url ciphertext (with the GCM tag), IV and key version. */
export interface SealedSecret {
  ciphertext: string;
  iv: string;
  keyVersion: string;
}

/**
 * Where a value lives. It is bound into the ciphertext as additional authenticated data, so a
 * ciphertext copied to another row (another name, or another repository's scope) fails to open.
 */
export interface SecretSlot {
  /** `""` for global secrets, else the repository id. */
  scope: string;
  name: string;
}

/**
 * AES-256-GCM over WebCrypto with versioned keys. `SECRETS_ENCRYPTION_KEYS` lists
 * `version:base64(32 bytes)` pairs, newest first: the first seals every new value, and every listed
 * version can still open what it sealed. Rotation is therefore: put a new key in front, deploy,
 * re-seal (each write does it for its row; `SecretStore.reencryptAll` does it for all), then drop
 * the old key.
 */
export class SecretsCipher {
  private constructor(
    private readonly keys: ReadonlyMap<string, CryptoKey>,
    /** The version new values are sealed under. */
    readonly currentVersion: string,
  ) {}

  /**
   * Parses and imports the key list. A missing or malformed list is `SECRET_KEY_MISSING`: secrets
   * are then neither stored nor read, rather than stored weakly.
   */
  static async fromConfig(config: string | undefined): Promise<SecretsCipher> {
    const entries = (config ?? "")
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== "");
    if (entries.length === 0) throw new LookoutError("SECRET_KEY_MISSING");
    const keys = new Map<string, CryptoKey>();
    for (const [index, entry] of entries.entries()) {
      const { version, material } = parseKeyEntry(entry, index, keys);
      keys.set(version, await crypto.subtle.importKey("raw", material, "AES-GCM", false, ["encrypt", "decrypt"]));
    }
    const [current] = keys.keys();
    if (current === undefined) throw new LookoutError("SECRET_KEY_MISSING");
    return new SecretsCipher(keys, current);
  }

  hasVersion(version: string): boolean {
    return this.keys.has(version);
  }

  async seal(plaintext: string, slot: SecretSlot): Promise<SealedSecret> {
    const key = this.keys.get(this.currentVersion);
    if (!key) throw new LookoutError("SECRET_KEY_MISSING");
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const ciphertext = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: additionalData(slot) }, key, toBytes(plaintext));
    return { ciphertext: toBase64Url(new Uint8Array(ciphertext)), iv: toBase64Url(iv), keyVersion: this.currentVersion };
  }

  /**
   * Opens a sealed value. A version no longer listed is `SECRET_KEY_MISSING` (put the key back); a
   * value that fails authentication was tampered with or moved between rows, and is never returned.
   */
  async open(sealed: SealedSecret, slot: SecretSlot): Promise<string> {
    const key = this.keys.get(sealed.keyVersion);
    if (!key) {
      throw new LookoutError(
        "SECRET_KEY_MISSING",
        `Secret "${slot.name}" is sealed under key version "${sealed.keyVersion}", which SECRETS_ENCRYPTION_KEYS no longer lists. Add that key back.`,
      );
    }
    let plaintext: ArrayBuffer;
    try {
      plaintext = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: toBytes(fromBase64Url(sealed.iv)), additionalData: additionalData(slot) },
        key,
        toBytes(fromBase64Url(sealed.ciphertext)),
      );
    } catch {
      throw new LookoutError("INTERNAL", `Secret "${slot.name}" failed its integrity check and cannot be used; set it again.`);
    }
    return new TextDecoder().decode(plaintext);
  }
}

function additionalData(slot: SecretSlot): Uint8Array<ArrayBuffer> {
  // Neither part can contain a newline (scopes are ids, names match SecretName), so the join is unambiguous.
  return toBytes(`${AAD_PREFIX}\n${slot.scope}\n${slot.name}`);
}

/** One `version:base64key` entry. Errors name the entry's position, never its content: it is key material. */
function parseKeyEntry(
  entry: string,
  index: number,
  seen: ReadonlyMap<string, unknown>,
): { version: string; material: Uint8Array<ArrayBuffer> } {
  const refuse = (problem: string) =>
    new LookoutError(
      "SECRET_KEY_MISSING",
      `SECRETS_ENCRYPTION_KEYS entry ${index + 1} ${problem}. Fix it and restart; secrets stay sealed until then.`,
    );
  const separator = entry.indexOf(":");
  const version = entry.slice(0, separator);
  if (separator <= 0 || !KEY_VERSION_PATTERN.test(version)) {
    throw refuse("is not version:base64key (versions are letters, digits, '_' and '-')");
  }
  if (seen.has(version)) throw refuse(`repeats version "${version}"`);
  const material = decodeKey(entry.slice(separator + 1));
  if (!material) throw refuse(`(version "${version}") is not base64 of exactly ${KEY_BYTES} bytes`);
  return { version, material };
}

function decodeKey(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const bytes = toBytes(fromBase64Url(text));
    return bytes.byteLength === KEY_BYTES ? bytes : null;
  } catch {
    return null;
  }
}

let cached: { config: string | undefined; cipher: Promise<SecretsCipher> } | null = null;

/**
 * The cipher for this isolate's key configuration. Importing keys is cheap but not free, and the
 * configuration only changes with a deploy, so the last one is kept; a failed import is not kept.
 */
export function cipherFor(config: string | undefined): Promise<SecretsCipher> {
  if (cached && cached.config === config) return cached.cipher;
  const cipher = SecretsCipher.fromConfig(config);
  cached = { config, cipher };
  cipher.catch(() => {
    if (cached?.cipher === cipher) cached = null;
  });
  return cipher;
}
