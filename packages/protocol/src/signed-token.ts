import { errors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import { randomToken, toBase64Url } from "./crypto.ts";

/**
 * Lookout's short-lived bearer tokens (client socket tokens, git credentials) as compact JWS
 * (RFC 7515/7519) signed with HMAC-SHA256 by `jose`, which runs the same in workerd and Node.
 *
 * Every token carries `iss`, `aud`, `iat`, `exp`, a random `jti` and a purpose claim `pur`, and its
 * header names its kind in `typ` (`lookout-<purpose>+jwt`, explicit typing per RFC 8725), so a
 * token minted for one use is refused by every other even if an operator reused a secret. The
 * claims are readable by whoever holds the token; nothing in them is secret, nothing can be changed.
 */

/** The one algorithm minted and accepted; a token naming any other (`none` included) is refused unread. */
const ALGORITHM = "HS256";
/** How far a verifier's clock may lag the minter's before a fresh token looks issued in the future. */
export const TOKEN_CLOCK_TOLERANCE_S = 5;
/** Longest token a verifier reads; claims are small, so anything longer is refused unparsed. */
export const MAX_SIGNED_TOKEN_CHARS = 8192;
/** Random bytes in a token's `jti`. */
const TOKEN_ID_BYTES = 16;
/** Registered claims the helper sets; a kind's own claims may not override them. */
const RESERVED_CLAIMS = new Set(["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "pur"]);

/** What a kind of token is: who mints it, who accepts it, what for and for how long at most. */
export interface TokenKind {
  /** The `pur` claim, and the header's `typ` as `lookout-<purpose>+jwt`. */
  purpose: string;
  issuer: string;
  audience: string;
  /** The longest life a verifier grants from `iat`, whatever `exp` says. */
  maxLifetimeMs: number;
}

/** Why a token was refused: unreadable, not signed with the secret, past its time, or minted for another use. */
export type TokenRefusalReason = "malformed" | "forged" | "expired" | "misdirected";

/** A token did not verify. Callers turn it into their own `INVALID_TOKEN` message; it never leaves a process. */
export class TokenRefused extends Error {
  readonly reason: TokenRefusalReason;

  constructor(reason: TokenRefusalReason, detail: string) {
    super(`token refused (${reason}): ${detail}`);
    this.name = "TokenRefused";
    this.reason = reason;
  }
}

export interface VerifiedToken {
  /** Every claim of the token; the kind's own ones still need parsing. */
  claims: Readonly<Record<string, unknown>>;
  tokenId: string;
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
}

function typeOf(kind: TokenKind): string {
  return `lookout-${kind.purpose}+jwt`;
}

function protectedHeader(kind: TokenKind): { alg: string; typ: string } {
  return { alg: ALGORITHM, typ: typeOf(kind) };
}

/**
 * The text every token of `kind` starts with (its encoded header and the dot after it), so a
 * redactor can name the kind of a token it finds. Stable: it depends only on the kind's purpose.
 */
export function signedTokenStart(kind: TokenKind): string {
  return `${toBase64Url(new TextEncoder().encode(JSON.stringify(protectedHeader(kind))))}.`;
}

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/** Seconds since the epoch, never later than `ms`: a token never outlives what its minter asked for. */
function numericDate(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * Signs `claims` as a token of `kind`, issued at `issuedAt` and valid until `expiresAt` (both ms
 * since the epoch; JWT times are whole seconds, rounded down). The secret must be non-empty.
 */
export async function signToken(
  secret: string,
  kind: TokenKind,
  claims: Readonly<Record<string, unknown>>,
  time: { issuedAt: number; expiresAt: number },
): Promise<{ token: string; tokenId: string; expiresAt: number }> {
  if (!secret) throw new TypeError("signToken needs a non-empty secret");
  const reserved = Object.keys(claims).filter((name) => RESERVED_CLAIMS.has(name));
  if (reserved.length > 0) throw new TypeError(`signToken sets ${reserved.join(", ")} itself`);
  const tokenId = randomToken(TOKEN_ID_BYTES);
  const expiresAt = numericDate(time.expiresAt);
  const token = await new SignJWT({ ...claims, pur: kind.purpose })
    .setProtectedHeader(protectedHeader(kind))
    .setIssuer(kind.issuer)
    .setAudience(kind.audience)
    .setIssuedAt(numericDate(time.issuedAt))
    .setExpirationTime(expiresAt)
    .setJti(tokenId)
    .sign(keyOf(secret));
  return { token, tokenId, expiresAt: expiresAt * 1000 };
}

/**
 * Verifies a token of `kind` at `now` (ms since the epoch): the algorithm, the signature, `typ`,
 * `iss`, `aud`, `pur`, and its time. `iat` may lie up to `TOKEN_CLOCK_TOLERANCE_S` in the future
 * (the minter's clock may run ahead); the token is refused once `exp` has passed in the verifier's
 * own clock, and in any case `maxLifetimeMs` after `iat`. Throws `TokenRefused`.
 */
export async function verifyToken(secret: string, kind: TokenKind, token: string, now: number): Promise<VerifiedToken> {
  if (!secret) throw new TypeError("verifyToken needs a non-empty secret");
  if (token.length > MAX_SIGNED_TOKEN_CHARS) throw new TokenRefused("malformed", "too long");
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: [ALGORITHM],
      typ: typeOf(kind),
      issuer: kind.issuer,
      audience: kind.audience,
      requiredClaims: ["iat", "exp", "jti", "pur"],
      maxTokenAge: Math.floor(kind.maxLifetimeMs / 1000),
      clockTolerance: TOKEN_CLOCK_TOLERANCE_S,
      currentDate: new Date(now),
    }));
  } catch (error) {
    // Anything but a JOSE error is not about the token (a bug, a missing WebCrypto): let it surface.
    if (!(error instanceof errors.JOSEError)) throw error;
    throw refusalOf(error);
  }
  if (payload.pur !== kind.purpose) throw new TokenRefused("misdirected", "minted for another purpose");
  if (typeof payload.jti !== "string" || payload.jti.length === 0) throw new TokenRefused("malformed", "no token id");
  const expiresAt = (payload.exp ?? 0) * 1000;
  // The tolerance above is for clocks disagreeing about when a token began; its end is strict.
  if (expiresAt <= now) throw new TokenRefused("expired", "past its expiry");
  return { claims: payload, tokenId: payload.jti, expiresAt };
}

function refusalOf(error: errors.JOSEError): TokenRefused {
  if (error instanceof errors.JWTExpired) return new TokenRefused("expired", error.message);
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JOSEAlgNotAllowed) {
    return new TokenRefused("forged", error.message);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const misdirected = error.reason === "check_failed" && ["typ", "iss", "aud"].includes(error.claim);
    return new TokenRefused(misdirected ? "misdirected" : "malformed", error.message);
  }
  return new TokenRefused("malformed", error.message);
}
