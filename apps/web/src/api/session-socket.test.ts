import { SOCKET_CLOSE_CODES } from "@lookout/protocol";
import { describe, expect, it, vi } from "vitest";
import { FakeWebSocket, ManualTimers } from "../../test/fake-socket";
import { ADA, SESSION, ev, queued, text } from "../../test/fixtures";
import { ApiError } from "./api-error";
import type { ParsedServerFrame } from "./server-frame";
import { SessionSocket, type ConnectionState } from "./session-socket";

/** Lets the promise chain of `mintToken` settle. */
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup(
  overrides: {
    mintToken?: (signal: AbortSignal) => Promise<{ path: string }>;
    online?: () => boolean;
    onSignedOut?: (error: ApiError) => void;
  } = {},
) {
  const timers = new ManualTimers();
  const sockets: FakeWebSocket[] = [];
  const frames: ParsedServerFrame[] = [];
  const states: ConnectionState[] = [];
  let lastSeq = 0;
  let tokenCount = 0;
  const mintToken = vi.fn(overrides.mintToken ?? (async () => ({ path: `/api/sessions/s_1/ws?token=t${++tokenCount}` })));
  const socket = new SessionSocket({
    mintToken,
    afterSeq: () => lastSeq,
    onFrame: (frame) => {
      frames.push(frame);
      if (frame.type === "events") lastSeq = Math.max(lastSeq, frame.highestSeq);
    },
    onState: (state) => states.push(state),
    ...(overrides.onSignedOut ? { onSignedOut: overrides.onSignedOut } : {}),
    origin: "ws://lookout.test",
    createSocket: (url) => {
      const fake = new FakeWebSocket(url);
      sockets.push(fake);
      return fake;
    },
    timers,
    random: () => 1,
    isOnline: overrides.online ?? (() => true),
    watchBrowser: false,
    initialBackoffMs: 1000,
    maxBackoffMs: 8000,
    pingIntervalMs: 10_000,
    staleAfterMs: 25_000,
  });
  return { socket, timers, sockets, frames, states, mintToken, setLastSeq: (seq: number) => (lastSeq = seq) };
}

describe("SessionSocket", () => {
  it("mints a token, opens the socket on its path and subscribes from the last applied seq", async () => {
    const t = setup();
    t.setLastSeq(7);
    t.socket.start();
    await flush();
    expect(t.sockets).toHaveLength(1);
    expect(t.sockets[0]!.url).toBe("ws://lookout.test/api/sessions/s_1/ws?token=t1");
    t.sockets[0]!.open();
    expect(t.sockets[0]!.sent).toEqual([{ type: "subscribe", afterSeq: 7 }]);
    expect(t.socket.state.kind).toBe("replaying");
  });

  it("passes validated frames through and goes live on subscribed", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const ws = t.sockets[0]!;
    ws.open();
    ws.deliver({ type: "hello", connectionId: "c1", participant: ADA, role: "owner", session: SESSION, latestSeq: 2 });
    ws.deliver({ type: "events", events: [ev(1, queued("p1", "hi")), ev(2, text("p1", "m1", "Hi"))], replay: true });
    ws.deliver({ type: "subscribed", latestSeq: 2 });
    expect(t.frames.map((frame) => frame.type)).toEqual(["hello", "events", "subscribed"]);
    expect(t.socket.state.kind).toBe("live");
  });

  it("drops frames that are not JSON or do not match the protocol", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const ws = t.sockets[0]!;
    ws.open();
    ws.deliverRaw("not json");
    ws.deliverRaw(new ArrayBuffer(4));
    ws.deliver({ type: "presence", entries: "nope" });
    ws.deliver({ type: "what" });
    expect(t.frames).toEqual([]);
  });

  it("skips events of unknown types but still counts their seq", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const ws = t.sockets[0]!;
    ws.open();
    ws.deliver({
      type: "events",
      replay: false,
      events: [ev(1, queued("p1", "hi")), { seq: 2, at: 1, key: null, payload: { type: "from.the.future" } }],
    });
    const frame = t.frames[0];
    expect(frame?.type === "events" && [frame.events.length, frame.highestSeq, frame.skipped]).toEqual([1, 2, 1]);
  });

  it("reconnects with a fresh token and resumes after the last applied seq", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const first = t.sockets[0]!;
    first.open();
    first.deliver({ type: "events", events: [ev(1, queued("p1", "hi")), ev(5, text("p1", "m1", "Hi"))], replay: true });
    first.deliver({ type: "subscribed", latestSeq: 5 });
    first.drop(1006);

    expect(t.socket.state).toMatchObject({ kind: "waiting", attempt: 0 });
    t.timers.advance(1000);
    await flush();
    expect(t.mintToken).toHaveBeenCalledTimes(2);
    const second = t.sockets[1]!;
    expect(second.url).toContain("token=t2");
    second.open();
    expect(second.sent).toEqual([{ type: "subscribe", afterSeq: 5 }]);
  });

  it("backs off exponentially up to the cap while attempts keep failing, and resets after success", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ws = t.sockets.at(-1)!;
      ws.drop(1006);
      const state = t.socket.state;
      if (state.kind !== "waiting") throw new Error(`expected waiting, got ${state.kind}`);
      delays.push(state.retryAt - t.timers.now());
      t.timers.advance(state.retryAt - t.timers.now());
      await flush();
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);

    const ws = t.sockets.at(-1)!;
    ws.open();
    ws.deliver({ type: "subscribed", latestSeq: 0 });
    ws.drop(1006);
    const state = t.socket.state;
    expect(state.kind === "waiting" && state.retryAt - t.timers.now()).toBe(1000);
  });

  it("retries when minting the token fails for a transient reason", async () => {
    let calls = 0;
    const t = setup({
      mintToken: async () => {
        calls++;
        if (calls === 1) throw ApiError.network(new TypeError("fetch failed"));
        return { path: "/ws?token=ok" };
      },
    });
    t.socket.start();
    await flush();
    expect(t.socket.state.kind).toBe("waiting");
    t.timers.advance(1000);
    await flush();
    expect(t.sockets).toHaveLength(1);
  });

  it.each([401, 403, 404])("gives up when minting the token answers %i", async (status) => {
    const t = setup({
      mintToken: async () => {
        throw new ApiError(status, "NO", "refused");
      },
    });
    t.socket.start();
    await flush();
    expect(t.socket.state).toMatchObject({ kind: "failed" });
    expect(t.timers.pendingCount).toBe(0);
  });

  it("stops without reconnecting and reports it when the server closes the socket because the sign-in ended", async () => {
    const signedOut = vi.fn();
    const t = setup({ onSignedOut: signedOut });
    t.socket.start();
    await flush();
    t.sockets[0]!.open();
    t.sockets[0]!.drop(SOCKET_CLOSE_CODES.SIGNED_OUT, "You signed out.");

    expect(t.socket.state).toMatchObject({ kind: "failed", error: { status: 401, code: "UNAUTHENTICATED" } });
    expect(signedOut).toHaveBeenCalledOnce();
    expect(t.timers.pendingCount).toBe(0);
    t.timers.advance(60_000);
    await flush();
    expect(t.mintToken).toHaveBeenCalledOnce();
    expect(t.sockets).toHaveLength(1);
  });

  it("pings while connected and replaces a connection that stopped answering", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const ws = t.sockets[0]!;
    ws.open();
    t.timers.advance(10_000);
    expect(ws.sent).toContainEqual({ type: "ping" });
    ws.deliver({ type: "pong" });
    t.timers.advance(10_000);
    // Nothing more comes back: after staleAfterMs the socket is dropped and a new one is made.
    t.timers.advance(20_000);
    expect(ws.closedWith).not.toBeNull();
    expect(t.socket.state.kind).toBe("waiting");
  });

  it("ignores a replaced socket's late messages", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const old = t.sockets[0]!;
    old.open();
    old.drop();
    old.deliver({ type: "pong" });
    expect(t.frames).toEqual([]);
  });

  it("waits for the network while offline and reconnects at once when it returns", async () => {
    let online = false;
    const t = setup({ online: () => online });
    t.socket.start();
    await flush();
    expect(t.socket.state.kind).toBe("offline");
    expect(t.mintToken).not.toHaveBeenCalled();
    online = true;
    t.socket.reconnectNow();
    await flush();
    expect(t.sockets).toHaveLength(1);
  });

  it("stops for good: closes the socket, cancels timers and ignores later events", async () => {
    const t = setup();
    t.socket.start();
    await flush();
    const ws = t.sockets[0]!;
    ws.open();
    t.socket.stop();
    expect(ws.closedWith).toEqual({ code: 1000, reason: "client closed" });
    expect(t.socket.state.kind).toBe("closed");
    expect(t.timers.pendingCount).toBe(0);
    expect(t.socket.send({ type: "ping" })).toBe(false);
  });

  it("does not open a socket when stopped while the token was being minted", async () => {
    let release: (value: { path: string }) => void = () => undefined;
    const t = setup({ mintToken: () => new Promise((resolve) => (release = resolve)) });
    t.socket.start();
    t.socket.stop();
    release({ path: "/ws" });
    await flush();
    expect(t.sockets).toHaveLength(0);
  });

  it("sends client frames only while open", async () => {
    const t = setup();
    t.socket.start();
    expect(t.socket.send({ type: "typing", typing: true })).toBe(false);
    await flush();
    t.sockets[0]!.open();
    expect(t.socket.send({ type: "typing", typing: true })).toBe(true);
    expect(t.sockets[0]!.sent).toContainEqual({ type: "typing", typing: true });
  });
});
