import { z } from "zod";
import { Id } from "./common.ts";
import { LookoutError } from "./errors.ts";
import { MAX_SIGNED_TOKEN_CHARS, signedTokenStart, signToken, TokenRefused, type TokenKind, verifyToken } from "./signed-token.ts";

/**
 * Short-lived git credentials for local repositories, served by the sandbox gateway over git's
 * smart HTTP protocol.
 *
 * The control plane mints one when a sandbox's git credential helper asks for it; the gateway
 * verifies it with the secret both share (`GIT_CREDENTIAL_SECRET` on the Worker,
 * `LOOKOUT_GIT_CREDENTIAL_SECRET` on the gateway) and needs no state of its own. The token is a
 * compact JWS (`signed-token.ts`: HS256, issued by the control plane for the gateway, purpose
 * `git-credential`) whose claims the sandbox that holds it can read but not change: which session,
 * which repository on the host, the one ref a push may update, and until when.
 */
export const GIT_CREDENTIAL_TOKEN: TokenKind = {
  purpose: "git-credential",
  issuer: "lookout-control-plane",
  audience: "lookout-sandbox-gateway",
  maxLifetimeMs: 10 * 60_000,
};
/** What every git credential starts with (its encoded header), for recognising one in text. */
export const GIT_CREDENTIAL_START = signedTokenStart(GIT_CREDENTIAL_TOKEN);
/** The user name git sends with the token as its password (the gateway ignores it). */
export const GIT_CREDENTIAL_USERNAME = "lookout";
/** How long a minted local credential is good for; the helper asks again when git needs one. */
export const GIT_CREDENTIAL_TTL_MS = GIT_CREDENTIAL_TOKEN.maxLifetimeMs;
/** Longest token the gateway reads; claims are small, so anything longer is refused unparsed. */
export const MAX_GIT_CREDENTIAL_CHARS = MAX_SIGNED_TOKEN_CHARS;

/** Where the gateway serves a session's local repository, relative to its base URL (no leading '/'). */
export function localRepositoryPath(sessionId: string): string {
  return `git/${sessionId}.git`;
}

/** The URL a sandbox clones its session's local repository from, given the gateway's URL as sandboxes see it. */
export function localRepositoryUrl(gatewayUrl: string, sessionId: string): string {
  return `${gatewayUrl.replace(/\/+$/, "")}/${localRepositoryPath(sessionId)}`;
}

const HexSha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a full commit hash");

/** What a git credential allows, as its private claims. */
const GitCredentialScope = z.object({
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
});

export type GitCredentialClaims = z.infer<typeof GitCredentialScope> & {
  /** Expiry, milliseconds since the epoch (the token holds whole seconds, rounded down). */
  exp: number;
};

/**
 * Signs claims into a token issued at `now`. The secret must be set: an empty one would let anyone
 * mint. Whatever `exp` says, the gateway refuses the token `GIT_CREDENTIAL_TTL_MS` after `now`.
 */
export async function mintGitCredential(secret: string | undefined, claims: GitCredentialClaims, now = Date.now()): Promise<string> {
  if (!secret)
    throw new LookoutError(
      "SERVICE_NOT_CONFIGURED",
      "GIT_CREDENTIAL_SECRET is not set, so git credentials for local repositories cannot be issued.",
    );
  const { exp, ...scope } = claims;
  const minted = await signToken(secret, GIT_CREDENTIAL_TOKEN, GitCredentialScope.parse(scope), { issuedAt: now, expiresAt: exp });
  return minted.token;
}

const REFUSALS: Readonly<Record<TokenRefused["reason"], string>> = {
  malformed: "The git credential is malformed.",
  forged: "The git credential does not verify.",
  misdirected: "This token is not a git credential.",
  expired: "The git credential has expired; git asks the credential helper for a new one.",
};

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
  let verified;
  try {
    verified = await verifyToken(secret, GIT_CREDENTIAL_TOKEN, token, expected.now ?? Date.now());
  } catch (error) {
    if (error instanceof TokenRefused) throw new LookoutError("INVALID_TOKEN", REFUSALS[error.reason]);
    throw error;
  }
  const scope = GitCredentialScope.safeParse(verified.claims);
  if (!scope.success) throw new LookoutError("INVALID_TOKEN", REFUSALS.malformed);
  if (scope.data.sid !== expected.sessionId) throw new LookoutError("INVALID_TOKEN", "This git credential belongs to another session.");
  return { ...scope.data, exp: verified.expiresAt };
}
