import { decodeProtectedHeader, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import {
  GIT_CREDENTIAL_START,
  LookoutError,
  mintGitCredential,
  signedTokenStart,
  signToken,
  toBase64Url,
  TOKEN_CLOCK_TOLERANCE_S,
  TokenRefused,
  type TokenKind,
  verifyGitCredential,
  verifyToken,
} from "../src/index";

const SECRET = "a-secret-for-signed-tokens";
const NOW = 1_800_000_000_000;
const kind: TokenKind = { purpose: "test-thing", issuer: "lookout-test-issuer", audience: "lookout-test-audience", maxLifetimeMs: 60_000 };
const key = new TextEncoder().encode(SECRET);

async function mint(claims: Record<string, unknown> = { sid: "ses_1" }, issuedAt = NOW, expiresAt = NOW + 60_000): Promise<string> {
  return (await signToken(SECRET, kind, claims, { issuedAt, expiresAt })).token;
}

async function refusal(promise: Promise<unknown>): Promise<TokenRefused["reason"]> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof TokenRefused)) throw new Error(`expected a TokenRefused, got ${String(error)}`);
  return error.reason;
}

/** A token with every claim a real one has, signed however the test says. */
function handMade(overrides: { pur?: string; iss?: string; aud?: string } = {}) {
  return new SignJWT({ sid: "ses_1", pur: overrides.pur ?? kind.purpose })
    .setIssuer(overrides.iss ?? kind.issuer)
    .setAudience(overrides.aud ?? kind.audience)
    .setIssuedAt(NOW / 1000)
    .setExpirationTime(NOW / 1000 + 60)
    .setJti("jti-1");
}

describe("signed tokens", () => {
  it("round-trips its claims with a fresh token id and the expiry in milliseconds", async () => {
    const first = await signToken(SECRET, kind, { sid: "ses_1" }, { issuedAt: NOW, expiresAt: NOW + 60_500 });
    const second = await signToken(SECRET, kind, { sid: "ses_1" }, { issuedAt: NOW, expiresAt: NOW + 60_000 });
    expect(first.tokenId).not.toBe(second.tokenId);
    expect(first.expiresAt).toBe(NOW + 60_000);
    const verified = await verifyToken(SECRET, kind, first.token, NOW);
    expect(verified.tokenId).toBe(first.tokenId);
    expect(verified.expiresAt).toBe(NOW + 60_000);
    expect(verified.claims).toMatchObject({ sid: "ses_1", pur: "test-thing", iss: kind.issuer, aud: kind.audience });
  });

  it("is a compact JWS with an HS256 header naming its kind", async () => {
    const token = await mint();
    expect(token.split(".")).toHaveLength(3);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "lookout-test-thing+jwt" });
    expect(token.startsWith(signedTokenStart(kind))).toBe(true);
  });

  it("refuses a token signed with another key", async () => {
    const forged = await handMade()
      .setProtectedHeader({ alg: "HS256", typ: "lookout-test-thing+jwt" })
      .sign(new TextEncoder().encode("another-secret"));
    expect(await refusal(verifyToken(SECRET, kind, forged, NOW))).toBe("forged");
  });

  it("refuses a token whose claims were changed after signing", async () => {
    const [header, , signature] = (await mint()).split(".");
    const otherClaims = (await mint({ sid: "ses_2" })).split(".")[1];
    expect(await refusal(verifyToken(SECRET, kind, `${header}.${otherClaims}.${signature}`, NOW))).toBe("forged");
  });

  it("accepts only HS256, even with the right secret", async () => {
    const hs512 = await handMade().setProtectedHeader({ alg: "HS512", typ: "lookout-test-thing+jwt" }).sign(key);
    expect(await refusal(verifyToken(SECRET, kind, hs512, NOW))).toBe("forged");
    const [, claims] = hs512.split(".");
    const noneHeader = toBase64Url(new TextEncoder().encode(JSON.stringify({ alg: "none", typ: "lookout-test-thing+jwt" })));
    const unsigned = `${noneHeader}.${claims}.`;
    expect(await refusal(verifyToken(SECRET, kind, unsigned, NOW))).toBe("forged");
  });

  it.each([
    ["another typ", { typ: "lookout-other+jwt" }, {}],
    ["another issuer", {}, { iss: "someone-else" }],
    ["another audience", {}, { aud: "someone-else" }],
    ["another purpose", {}, { pur: "other" }],
  ])("refuses a token with %s as misdirected", async (_, header, claims) => {
    const token = await handMade(claims)
      .setProtectedHeader({ alg: "HS256", typ: "lookout-test-thing+jwt", ...header })
      .sign(key);
    expect(await refusal(verifyToken(SECRET, kind, token, NOW))).toBe("misdirected");
  });

  it("is good until its expiry and refused from then on, with no tolerance at the end", async () => {
    const token = await mint({}, NOW, NOW + 30_000);
    await expect(verifyToken(SECRET, kind, token, NOW + 29_999)).resolves.toMatchObject({ expiresAt: NOW + 30_000 });
    expect(await refusal(verifyToken(SECRET, kind, token, NOW + 30_000))).toBe("expired");
  });

  it("never outlives its kind's maximum lifetime, whatever its exp says", async () => {
    const token = await mint({}, NOW, NOW + 24 * 3_600_000);
    await expect(verifyToken(SECRET, kind, token, NOW + 60_000)).resolves.toBeDefined();
    expect(await refusal(verifyToken(SECRET, kind, token, NOW + 60_000 + (TOKEN_CLOCK_TOLERANCE_S + 1) * 1000))).toBe("expired");
  });

  it("tolerates a minter's clock a few seconds ahead, not more", async () => {
    const ahead = await mint({}, NOW + TOKEN_CLOCK_TOLERANCE_S * 1000, NOW + 60_000);
    await expect(verifyToken(SECRET, kind, ahead, NOW)).resolves.toBeDefined();
    const farAhead = await mint({}, NOW + (TOKEN_CLOCK_TOLERANCE_S + 1) * 1000, NOW + 60_000);
    expect(await refusal(verifyToken(SECRET, kind, farAhead, NOW))).toBe("malformed");
  });

  it("refuses garbage and overlong input unparsed", async () => {
    for (const garbage of ["", "a.b", "a.b.c", "lgc1.e30.00"])
      expect(await refusal(verifyToken(SECRET, kind, garbage, NOW))).toBe("malformed");
    expect(await refusal(verifyToken(SECRET, kind, `${await mint()}${"x".repeat(8192)}`, NOW))).toBe("malformed");
  });

  it("refuses to mint without a secret or with claims it sets itself", async () => {
    await expect(signToken("", kind, {}, { issuedAt: NOW, expiresAt: NOW + 1 })).rejects.toThrow(TypeError);
    await expect(signToken(SECRET, kind, { exp: 1 }, { issuedAt: NOW, expiresAt: NOW + 1 })).rejects.toThrow(/exp/);
  });
});

describe("git credentials", () => {
  const claims = { sid: "ses_1", repo: "/srv/repo", ref: "refs/heads/lookout/ses_1", exp: NOW + 60_000 };

  it("carry the session, repository, ref and approved workflow commit to the gateway", async () => {
    const token = await mintGitCredential(SECRET, { ...claims, workflowSha: "a".repeat(40) }, NOW);
    expect(token.startsWith(GIT_CREDENTIAL_START)).toBe(true);
    expect(await verifyGitCredential(SECRET, token, { sessionId: "ses_1", now: NOW })).toEqual({ ...claims, workflowSha: "a".repeat(40) });
  });

  it.each([
    ["another session's", () => mintGitCredential(SECRET, claims, NOW), "ses_2", NOW, /another session/],
    ["an expired", () => mintGitCredential(SECRET, claims, NOW), "ses_1", NOW + 60_000, /expired/],
    ["a forged", () => mintGitCredential("another-secret", claims, NOW), "ses_1", NOW, /does not verify/],
    ["a socket-kind", () => mint({ sid: "ses_1" }), "ses_1", NOW, /not a git credential/],
  ])("refuse %s credential with INVALID_TOKEN", async (_, make, sessionId, now, message) => {
    const error = await verifyGitCredential(SECRET, await make(), { sessionId, now }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LookoutError);
    expect(error).toMatchObject({ code: "INVALID_TOKEN", message: expect.stringMatching(message) });
  });

  it("fail closed without a secret", async () => {
    const token = await mintGitCredential(SECRET, claims, NOW);
    await expect(verifyGitCredential(undefined, token, { sessionId: "ses_1", now: NOW })).rejects.toMatchObject({
      code: "SERVICE_NOT_CONFIGURED",
    });
    await expect(mintGitCredential("", claims, NOW)).rejects.toMatchObject({ code: "SERVICE_NOT_CONFIGURED" });
  });
});
