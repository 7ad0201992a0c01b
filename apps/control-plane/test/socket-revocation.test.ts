import { env, evictDurableObject, SELF } from "cloudflare:test";
import { SOCKET_CLOSE_CODES, sha256Hex } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { describe, expect, it } from "vitest";
import { closeIfSignedOutMeanwhile } from "../src/auth/ws-token";
import { AuthSessionStore } from "../src/db/auth-sessions";
import { api, createRepositoryAndSession, login, ORIGIN, Peer, subscribe } from "./helpers";
import { call, signedInit } from "./support/auth";

/** A fresh socket token's path for `sessionId`, minted with `cookie`. */
async function mintPath(cookie: string, sessionId: string): Promise<string> {
  const minted = await api(cookie)("POST", `/api/sessions/${sessionId}/ws-token`);
  expect(minted.status).toBe(200);
  const { path }: { path: string } = minted.json;
  return path;
}

/** Opens the socket at `path`: the peer when the upgrade is accepted, else the refusal. */
async function upgrade(path: string): Promise<{ peer: Peer | null; status: number; code: string | null }> {
  const response = await SELF.fetch(`${ORIGIN}${path}`, { headers: { upgrade: "websocket" } });
  if (response.webSocket) {
    response.webSocket.accept();
    return { peer: new Peer(response.webSocket), status: response.status, code: null };
  }
  const body: { error: { code: string } } = await response.json();
  return { peer: null, status: response.status, code: body.error.code };
}

/** Proves a socket is still served: a ping gets its pong. */
async function expectLive(peer: Peer): Promise<void> {
  peer.send({ type: "ping" });
  await peer.waitFor((message) => message.type === "pong");
  expect(peer.closed).toBeNull();
}

async function signOut(cookie: string): Promise<void> {
  const response = await SELF.fetch(`${ORIGIN}/auth/logout`, { method: "POST", headers: { cookie } });
  expect(response.status).toBe(204);
}

async function socketRowsOf(cookie: string): Promise<{ tokens: number; sockets: number }> {
  const authSessionId = await sha256Hex(cookie.slice("lookout_session=".length));
  const tokens = await env.DB.prepare("SELECT COUNT(*) AS n FROM socket_tokens WHERE auth_session_id = ?")
    .bind(authSessionId)
    .first<{ n: number }>();
  const sockets = await env.DB.prepare("SELECT COUNT(*) AS n FROM auth_session_sockets WHERE auth_session_id = ?")
    .bind(authSessionId)
    .first<{ n: number }>();
  return { tokens: tokens?.n ?? -1, sockets: sockets?.n ?? -1 };
}

describe("signing out reaches sockets", () => {
  it("closes every socket that sign-in opened, in every session, with SIGNED_OUT, and leaves other sign-ins' sockets alone", async () => {
    const signedOut = await login();
    const other = await login();
    const first = await createRepositoryAndSession(signedOut);
    const second = await createRepositoryAndSession(signedOut);
    const inFirst = await subscribe(signedOut, first.sessionId);
    const inSecond = await subscribe(signedOut, second.sessionId);
    const otherInFirst = await subscribe(other, first.sessionId);
    const seenBefore = otherInFirst.received.length;

    await signOut(signedOut);

    for (const peer of [inFirst, inSecond]) {
      const closed = await peer.waitForClose();
      expect(closed.code).toBe(SOCKET_CLOSE_CODES.SIGNED_OUT);
    }
    await expectLive(otherInFirst);
    // Presence follows at once: the admin is left with the other sign-in's one connection.
    await otherInFirst.waitFor(
      (message) =>
        otherInFirst.received.indexOf(message) >= seenBefore &&
        message.type === "presence" &&
        message.entries.length === 1 &&
        message.entries[0]?.connections === 1,
    );
    otherInFirst.close();
  });

  it("finds the sign-in's sockets after the session object was evicted from memory", async () => {
    const cookie = await login();
    const { sessionId } = await createRepositoryAndSession(cookie);
    const peer = await subscribe(cookie, sessionId);
    await evictDurableObject(await getAgentByName(env.SESSION, sessionId));
    await expectLive(peer);

    await signOut(cookie);

    expect((await peer.waitForClose()).code).toBe(SOCKET_CLOSE_CODES.SIGNED_OUT);
  });

  it("refuses a socket token that was minted before the sign-out and never used", async () => {
    const cookie = await login();
    const { sessionId } = await createRepositoryAndSession(cookie);
    const unused = await mintPath(cookie, sessionId);

    await signOut(cookie);

    const attempt = await upgrade(unused);
    expect(attempt.peer).toBeNull();
    expect(attempt.status).toBe(401);
    expect(attempt.code).toBe("INVALID_TOKEN");
    expect(await socketRowsOf(cookie)).toEqual({ tokens: 0, sockets: 0 });
    // Nor can the signed-out cookie get a new one.
    expect((await api(cookie)("POST", `/api/sessions/${sessionId}/ws-token`)).status).toBe(401);
  });

  it("closes a socket accepted after its sign-in ended, once the upgrade's own check sees it", async () => {
    const cookie = await login();
    const { sessionId } = await createRepositoryAndSession(cookie);
    const peer = await subscribe(cookie, sessionId);
    const authSessionId = await sha256Hex(cookie.slice("lookout_session=".length));
    // As if sign-out had told the session to close this sign-in's sockets just before this one
    // was accepted: the sign-in is gone, the socket is not.
    await env.DB.prepare("DELETE FROM auth_sessions WHERE token_hash = ?").bind(authSessionId).run();
    await expectLive(peer);

    await closeIfSignedOutMeanwhile(env, authSessionId, sessionId);

    expect((await peer.waitForClose()).code).toBe(SOCKET_CLOSE_CODES.SIGNED_OUT);
  });

  it("prunes an expired sign-in's socket rows with it", async () => {
    const cookie = await login();
    const { sessionId } = await createRepositoryAndSession(cookie);
    (await subscribe(cookie, sessionId)).close();
    await mintPath(cookie, sessionId);
    expect(await socketRowsOf(cookie)).toEqual({ tokens: 1, sockets: 1 });
    const authSessionId = await sha256Hex(cookie.slice("lookout_session=".length));
    await env.DB.prepare("UPDATE auth_sessions SET expires_at = ? WHERE token_hash = ?")
      .bind(Date.now() - 1, authSessionId)
      .run();

    await new AuthSessionStore(env.DB).create("admin", Date.now());

    expect(await socketRowsOf(cookie)).toEqual({ tokens: 0, sockets: 0 });
  });
});

describe("socket tokens", () => {
  it("open one socket, once", async () => {
    const cookie = await login();
    const { sessionId } = await createRepositoryAndSession(cookie);
    const path = await mintPath(cookie, sessionId);

    const first = await upgrade(path);
    expect(first.status).toBe(101);
    const reused = await upgrade(path);

    expect(reused.peer).toBeNull();
    expect(reused.status).toBe(401);
    expect(reused.code).toBe("INVALID_TOKEN");
    await expectLive(first.peer!);
    first.peer!.close();
  });

  it("let exactly one of two racing upgrades through", async () => {
    const cookie = await login();
    const { sessionId } = await createRepositoryAndSession(cookie);
    const path = await mintPath(cookie, sessionId);

    const attempts = await Promise.all([upgrade(path), upgrade(path)]);

    expect(attempts.map((attempt) => attempt.status).sort()).toEqual([101, 401]);
    for (const attempt of attempts) attempt.peer?.close();
  });

  it("issued to a signed service request are single-use too", async () => {
    const cookie = await login();
    const { sessionId } = await createRepositoryAndSession(cookie);
    const mintPathAsService = `/api/sessions/${sessionId}/ws-token`;
    const minted = await call(
      mintPathAsService,
      await signedInit("POST", mintPathAsService, { actor: { userId: "admin", name: "Admin" } }),
    );
    expect(minted.status).toBe(200);
    const { path }: { path: string } = await minted.json();

    const first = await upgrade(path);
    expect(first.status).toBe(101);
    expect((await upgrade(path)).status).toBe(401);
    first.peer!.close();
  });
});
