import { z } from "zod";
import { Id } from "./common.ts";
import { fromBase64Url, hmacSha256Hex, timingSafeEqual, toBase64Url } from "./crypto.ts";
import { LookoutError } from "./errors.ts";

/**
 * Short-lived git credentials for local repositories, served by the sandbox gateway over git's
 * smart HTTP protocol.
 *
 * The control plane mints one when a sandbox's git credential helper asks for it; the gateway
 * verifies it with the secret both share (`GIT_CREDENTIAL_SECRET` on the Worker,
 * `LOOKOUT_GIT_CREDENTIAL_SECRET` on the gateway) and needs no state of its own. The token is
 * `lgc1.<base64url(JSON claims)>.<hex HMAC-SHA256 over "lgc1.<claims>">`. The claims are readable
 * by the sandbox that holds the token (nothing in them is secret) but cannot be changed: which
 * session, which repository on the host, the one ref a push may update, and until when.
 */
export const GIT_CREDENTIAL_PREFIX = "lgc1";
/** The user name git sends with the token as its password (the gateway ignores it). */
export const GIT_CREDENTIAL_USERNAME = "lookout";
/** How long a minted local credential is good for; the helper asks again when git needs one. */
export const GIT_CREDENTIAL_TTL_MS = 10 * 60_000;
/** Longest token the gateway reads; claims are small, so anything longer is refused unparsed. */
export const MAX_GIT_CREDENTIAL_CHARS = 8192;

/** Where the gateway serves a session's local repository, relative to its base URL (no leading '/'). */
export function localRepositoryPath(sessionId: string): string {
  return `git/${sessionId}.git`;
}

/** The URL a sandbox clones its session's local repository from, given the gateway's URL as sandboxes see it. */
export function localRepositoryUrl(gatewayUrl: string, sessionId: string): string {
  return `${gatewayUrl.replace(/\/+$/, "")}/${localRepositoryPath(sessionId)}`;
}

const HexSha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a full commit hash");

export const GitCredentialClaims = z.object({
  v: z.literal(1),
  /** The session the credential was minted for; the URL's session must match. */
  sid: Id,
  /** Absolute path of the repository on the gateway's host. */
  repo: z.string().startsWith("/").max(4096),
  /** The only ref a push may update: `refs/heads/<the session's branch>`. */
  ref: z.string().startsWith("refs/heads/").max(250),
  /**
   * A commit a human approved for pushing although it changes `.github/workflows/`; a push whose
   * new head is this commit may carry workflow changes, any other push may not.
   */
  workflowSha: HexSha.optional(),
  /** Expiry, milliseconds since the epoch. */
  exp: z.number().int().positive(),
});
export type GitCredentialClaims = z.infer<typeof GitCredentialClaims>;

/** Signs claims into a token. The secret must be set: an empty one would let anyone mint. */
export async function mintGitCredential(secret: string | undefined, claims: Omit<GitCredentialClaims, "v">): Promise<string> {
  if (!secret)
    throw new LookoutError(
      "SERVICE_NOT_CONFIGURED",
      "GIT_CREDENTIAL_SECRET is not set, so git credentials for local repositories cannot be issued.",
    );
  const body = toBase64Url(new TextEncoder().encode(JSON.stringify(GitCredentialClaims.parse({ v: 1, ...claims }))));
  const signed = `${GIT_CREDENTIAL_PREFIX}.${body}`;
  return `${signed}.${await hmacSha256Hex(secret, signed)}`;
}

/**
 * Verifies a token for `sessionId` at `now`. Every failure is `INVALID_TOKEN` (or
 * `SERVICE_NOT_CONFIGURED` when the secret is unset: fail closed) so a caller learns nothing about
 * which check refused it beyond the message. The signature is checked before the claims are parsed.
 */
export async function verifyGitCredential(
  secret: string | undefined,
  token: string,
  expected: { sessionId: string; now?: number },
): Promise<GitCredentialClaims> {
  if (!secret)
    throw new LookoutError("SERVICE_NOT_CONFIGURED", "The git credential secret is not configured, so git requests are refused.");
  if (token.length > MAX_GIT_CREDENTIAL_CHARS) throw new LookoutError("INVALID_TOKEN", "The git credential is malformed.");
  const parts = token.split(".");
  const [prefix, body, signature] = parts;
  if (parts.length !== 3 || prefix !== GIT_CREDENTIAL_PREFIX || !body || !signature) {
    throw new LookoutError("INVALID_TOKEN", "The git credential is malformed.");
  }
  if (!timingSafeEqual(await hmacSha256Hex(secret, `${prefix}.${body}`), signature)) {
    throw new LookoutError("INVALID_TOKEN", "The git credential does not verify.");
  }
  let claims: GitCredentialClaims;
  try {
    claims = GitCredentialClaims.parse(JSON.parse(new TextDecoder().decode(fromBase64Url(body))));
  } catch {
    throw new LookoutError("INVALID_TOKEN", "The git credential is malformed.");
  }
  if (claims.sid !== expected.sessionId) throw new LookoutError("INVALID_TOKEN", "This git credential belongs to another session.");
  if (claims.exp <= (expected.now ?? Date.now()))
    throw new LookoutError("INVALID_TOKEN", "The git credential has expired; git asks the credential helper for a new one.");
  return claims;
}
