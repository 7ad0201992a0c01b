import { env, SELF } from "cloudflare:test";
import { type Author, fromBase64Url, type PresenceEntry, toBase64Url } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { issueWsToken, WS_TOKEN_TTL_MS } from "../src/auth/ws-token";
import { api, createRepositoryAndSession, login, openClient, ORIGIN, type Peer } from "./helpers";

const MALLORY: Author = { userId: "mallory", name: "Mallory" };

interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** Tries to open a client socket at `path`; a socket that does open is closed and fails the test. */
async function refusedUpgrade(path: string): Promise<Refusal> {
  const response = await SELF.fetch(`${ORIGIN}${path}`, { headers: { upgrade: "websocket" } });
  if (response.webSocket) {
    response.webSocket.accept();
    response.webSocket.close(1000, "should have been refused");
    throw new Error(`the upgrade was accepted (${response.status})`);
  }
  const body: { error: { code: string; message: string } } = await response.json();
  return { status: response.status, ...body.error };
}

/** Who the session says is there: its participants and the presence of connected clients. */
async function whoIsThere(cookie: string, sessionId: string): Promise<{ participants: string[]; presence: PresenceEntry[] }> {
  const participants = await api(cookie)("GET", `/api/sessions/${sessionId}/participants`);
  const detail = await api(cookie)("GET", `/api/sessions/${sessionId}`);
  expect(participants.status).toBe(200);
  expect(detail.status).toBe(200);
  const list: { participant: Author }[] = participants.json.participants;
  return { participants: list.map((entry) => entry.participant.userId).sort(), presence: detail.json.presence };
}

/** The socket path for `token` in `sessionId`, as `POST /ws-token` returns it. */
function socketPath(sessionId: string, token: string): string {
  return `/api/sessions/${sessionId}/ws?token=${encodeURIComponent(token)}`;
}

/** How many issued, unused socket tokens carry `token`'s id. */
async function unusedRowsFor(token: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM socket_tokens WHERE id = ?").bind(claimsOf(token).jti).first<{ n: number }>();
  return row?.n ?? -1;
}

function claimsOf(token: string): { jti: string } & Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  return JSON.parse(new TextDecoder().decode(fromBase64Url(payload))) as { jti: string } & Record<string, unknown>;
}

/** `token` with its claims changed and signed again with HMAC-SHA256 under `secret`: a well-formed token. */
async function resigned(token: string, secret: string, changes: Record<string, unknown>): Promise<string> {
  const [header] = token.split(".");
  const payload = toBase64Url(new TextEncoder().encode(JSON.stringify({ ...claimsOf(token), ...changes })));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${payload}`));
  return `${header}.${payload}.${toBase64Url(new Uint8Array(signature))}`;
}

/** A session with its owner connected, so presence has something to lose or gain. */
async function watchedSession(): Promise<{ cookie: string; sessionId: string; owner: Peer }> {
  const cookie = await login();
  const { sessionId } = await createRepositoryAndSession(cookie);
  const owner = await openClient(cookie, sessionId);
  return { cookie, sessionId, owner };
}

describe("a client socket upgrade is refused, and nothing changes in the session,", () => {
  it("for a forged token: the real token's claims raised to owner and signed with another key", async () => {
    const { cookie, sessionId, owner } = await watchedSession();
    const genuine = await issueWsToken(env, { sid: sessionId, author: MALLORY, role: "member" }, null);
    const forged = await resigned(genuine.token, "not-the-ws-token-secret", { role: "owner" });
    const before = await whoIsThere(cookie, sessionId);

    const refusal = await refusedUpgrade(socketPath(sessionId, forged));

    expect(refusal).toEqual({ status: 401, code: "INVALID_TOKEN", message: expect.stringMatching(/does not verify/) });
    expect(await whoIsThere(cookie, sessionId)).toEqual(before);
    expect(before.participants).not.toContain(MALLORY.userId);
    // The forgery did not use up the token it copied: that one still opens the socket, as a member.
    expect(await unusedRowsFor(genuine.token)).toBe(1);
    const response = await SELF.fetch(`${ORIGIN}${socketPath(sessionId, genuine.token)}`, { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(101);
    response.webSocket?.accept();
    const participants = await api(cookie)("GET", `/api/sessions/${sessionId}/participants`);
    expect(participants.json.participants).toContainEqual(expect.objectContaining({ participant: MALLORY, role: "member" }));
    response.webSocket?.close(1000, "done");
    owner.close();
  });

  it("for an expired token, minted by the real code a lifetime ago", async () => {
    const { cookie, sessionId, owner } = await watchedSession();
    const issuedAt = Date.now() - WS_TOKEN_TTL_MS - 1_000;
    const expired = await issueWsToken(env, { sid: sessionId, author: MALLORY, role: "member" }, null, issuedAt);
    expect(expired.expiresAt).toBeLessThan(Date.now());
    const before = await whoIsThere(cookie, sessionId);

    const refusal = await refusedUpgrade(socketPath(sessionId, expired.token));

    expect(refusal).toEqual({ status: 401, code: "INVALID_TOKEN", message: expect.stringMatching(/has expired/) });
    expect(await whoIsThere(cookie, sessionId)).toEqual(before);
    expect(before.participants).not.toContain(MALLORY.userId);
    owner.close();
  });

  it("for a token minted for another session", async () => {
    const { cookie, sessionId, owner } = await watchedSession();
    const other = await createRepositoryAndSession(cookie);
    const minted = await api(cookie)("POST", `/api/sessions/${other.sessionId}/ws-token`);
    expect(minted.status).toBe(200);
    const forOther: string = minted.json.token;
    const before = await whoIsThere(cookie, sessionId);
    const otherBefore = await whoIsThere(cookie, other.sessionId);

    const refusal = await refusedUpgrade(socketPath(sessionId, forOther));

    expect(refusal).toEqual({ status: 401, code: "INVALID_TOKEN", message: expect.stringMatching(/another session/) });
    expect(await whoIsThere(cookie, sessionId)).toEqual(before);
    expect(await whoIsThere(cookie, other.sessionId)).toEqual(otherBefore);
    expect(otherBefore.presence).toEqual([]);
    // Still unused: it opens the session it was minted for.
    expect(await unusedRowsFor(forOther)).toBe(1);
    owner.close();
  });

  it("for a token already used once", async () => {
    const { cookie, sessionId, owner } = await watchedSession();
    const minted = await api(cookie)("POST", `/api/sessions/${sessionId}/ws-token`);
    expect(minted.status).toBe(200);
    const path: string = minted.json.path;
    const first = await SELF.fetch(`${ORIGIN}${path}`, { headers: { upgrade: "websocket" } });
    expect(first.status).toBe(101);
    first.webSocket?.accept();
    const before = await whoIsThere(cookie, sessionId);
    expect(before.presence).toEqual([expect.objectContaining({ connections: 2 })]);

    const refusal = await refusedUpgrade(path);

    expect(refusal).toEqual({ status: 401, code: "INVALID_TOKEN", message: expect.stringMatching(/already used/) });
    expect(await whoIsThere(cookie, sessionId)).toEqual(before);
    first.webSocket?.close(1000, "done");
    owner.close();
  });
});
