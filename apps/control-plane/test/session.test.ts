import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { MAX_FRAME_BYTES, type ServerMessage, type SessionCommand } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { beforeAll, describe, expect, it } from "vitest";
import { type SessionAgent } from "../src/session/session-agent";
import { SESSION_MIGRATIONS } from "../src/session/schema";
import {
  api,
  createRepositoryAndSession,
  eventsOf,
  login,
  openBridge,
  openClient,
  type Peer,
  sandboxRequestFor,
  subscribe,
} from "./helpers";

let cookie: string;
beforeAll(async () => {
  cookie = await login();
});

const isError = (m: ServerMessage): m is Extract<ServerMessage, { type: "error" }> => m.type === "error";

async function latestSeq(sessionId: string): Promise<number> {
  return (await api(cookie)("GET", `/api/sessions/${sessionId}`)).json.latestSeq;
}

/** Brings up the session's (fake) sandbox and connects a bridge for it. */
async function connectBridge(sessionId: string, index = 0): Promise<Peer<SessionCommand>> {
  const request = await sandboxRequestFor(sessionId, 5_000, index);
  const { peer } = await openBridge(sessionId, request.sandboxId, request.sandboxToken);
  if (!peer) throw new Error("bridge refused");
  await peer.waitFor((m) => m.type === "bridge.welcome");
  return peer;
}

describe("session storage", () => {
  it("migrates an empty object and records every migration once", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const stub = await getAgentByName(env.SESSION, sessionId);
    await runInDurableObject(stub, (_instance: SessionAgent, state) => {
      const rows = state.storage.sql.exec<{ version: number }>("SELECT version FROM _lookout_migrations ORDER BY version").toArray();
      expect(rows.map((r) => r.version)).toEqual(SESSION_MIGRATIONS.map((m) => m.version));
      const tables = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .toArray()
        .map((r) => r.name);
      expect(tables).toEqual(expect.arrayContaining(["session", "participants", "prompts", "events", "sandbox", "deadlines"]));
    });
  });

  it("keeps its state when the object is evicted and woken", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const call = api(cookie);
    await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "r1", text: "first" });
    const before = (await call("GET", `/api/sessions/${sessionId}`)).json;
    const eventsBefore = (await call("GET", `/api/sessions/${sessionId}/events?after=0`)).json.events;
    await evictDurableObject(await getAgentByName(env.SESSION, sessionId));
    const after = (await call("GET", `/api/sessions/${sessionId}`)).json;
    expect(after.latestSeq).toBe(before.latestSeq);
    expect(after.queue).toEqual(before.queue);
    expect(after.session.title).toBe("Test session");
    const events = (await call("GET", `/api/sessions/${sessionId}/events?after=0`)).json.events;
    expect(events.slice(0, 2).map((e: { payload: { type: string } }) => e.payload.type)).toEqual(["session.created", "prompt.queued"]);
    expect(events.slice(0, eventsBefore.length)).toEqual(eventsBefore);
  });
});

describe("event stream", () => {
  it("replays exactly the missed events, then streams live, while prompts are appended concurrently", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const call = api(cookie);
    for (let i = 0; i < 5; i++) await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: `a${i}`, text: `before ${i}` });
    const afterSeq = 3;
    const peer = await openClient(cookie, sessionId);
    // Subscribe while more events are being appended from another request path.
    const writes = Array.from({ length: 10 }, (_, i) =>
      call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: `b${i}`, text: `during ${i}` }),
    );
    peer.send({ type: "subscribe", afterSeq });
    await Promise.all(writes);
    const finalSeq = await latestSeq(sessionId);
    await peer.waitFor((m) => m.type === "events" && m.events.some((e) => e.seq === finalSeq));
    const seqs = eventsOf(peer).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: finalSeq - afterSeq }, (_, i) => afterSeq + 1 + i));
  });

  it("shows two clients the same events in the same order, and resumes a reconnect from its sequence", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const call = api(cookie);
    const alice = await subscribe(cookie, sessionId);
    const bob = await subscribe(cookie, sessionId);
    for (let i = 0; i < 6; i++) await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: `p${i}`, text: `prompt ${i}` });
    const finalSeq = await latestSeq(sessionId);
    for (const peer of [alice, bob]) await peer.waitFor((m) => m.type === "events" && m.events.some((e) => e.seq === finalSeq));
    expect(eventsOf(alice)).toEqual(eventsOf(bob));

    const seen = eventsOf(bob);
    const resumeFrom = seen[Math.floor(seen.length / 2)]!.seq;
    bob.close();
    await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "late", text: "while bob was away" });
    const again = await subscribe(cookie, sessionId, resumeFrom);
    const newest = await latestSeq(sessionId);
    await again.waitFor((m) => m.type === "events" && m.events.some((e) => e.seq === newest));
    const combined = [...seen.filter((e) => e.seq <= resumeFrom), ...eventsOf(again)].map((e) => e.seq);
    expect(combined).toEqual([...new Set(combined)].sort((a, b) => a - b));
    expect(eventsOf(again)[0]!.seq).toBe(resumeFrom + 1);
    await alice.waitFor((m) => m.type === "events" && m.events.some((e) => e.seq === newest));
  });
});

describe("prompt queue", () => {
  it("is idempotent by request id and refuses a reused id with other content", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const call = api(cookie);
    const first = await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "same", text: "hello" });
    const again = await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "same", text: "hello" });
    expect(first.status).toBe(202);
    expect(again.json).toEqual({ promptId: first.json.promptId, duplicate: true });
    const conflict = await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "same", text: "different" });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe("PROMPT_REQUEST_CONFLICT");
    expect((await call("GET", `/api/sessions/${sessionId}`)).json.queue).toHaveLength(1);
  });

  it("is bounded at the documented 20 waiting prompts, and a full queue changes nothing", async () => {
    // The README promises 20; the number is written here, not imported, so changing the limit fails this test.
    const documentedLimit = 20;
    const { sessionId } = await createRepositoryAndSession(cookie);
    const call = api(cookie);
    for (let i = 0; i < documentedLimit; i++) {
      expect((await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: `q${i}`, text: `task ${i}` })).status).toBe(202);
    }
    const before = (await call("GET", `/api/sessions/${sessionId}`)).json;
    const eventsBefore = (await call("GET", `/api/sessions/${sessionId}/events?after=0`)).json.events;
    expect(before.queue.filter((prompt: { status: string }) => prompt.status === "pending")).toHaveLength(documentedLimit);

    const refused = await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "overflow", text: "one too many" });
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe("PROMPT_QUEUE_FULL");

    const after = (await call("GET", `/api/sessions/${sessionId}`)).json;
    expect(after.latestSeq).toBe(before.latestSeq);
    expect(after.queue).toEqual(before.queue);
    expect((await call("GET", `/api/sessions/${sessionId}/events?after=0`)).json.events).toEqual(eventsBefore);
  });

  it("cancels a pending prompt, runs prompts in order, and stops the running one", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const call = api(cookie);
    const first = (await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "one", text: "first" })).json.promptId;
    const second = (await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "two", text: "second" })).json.promptId;
    const third = (await call("POST", `/api/sessions/${sessionId}/prompts`, { requestId: "three", text: "third" })).json.promptId;
    expect((await call("DELETE", `/api/sessions/${sessionId}/prompts/${second}`)).status).toBe(200);
    expect((await call("DELETE", `/api/sessions/${sessionId}/prompts/${second}`)).json.error.code).toBe("PROMPT_NOT_CANCELLABLE");

    const bridge = await connectBridge(sessionId);
    bridge.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready" } });
    const started = await bridge.waitFor((m): m is Extract<SessionCommand, { type: "command.prompt" }> => m.type === "command.prompt");
    expect(started.promptId).toBe(first);
    expect(started.author.name).toBe("Admin");

    expect((await call("POST", `/api/sessions/${sessionId}/stop`)).status).toBe(200);
    await bridge.waitFor((m) => m.type === "command.stop" && m.promptId === first);
    bridge.send({ type: "bridge.event", bseq: 2, event: { type: "prompt.finished", promptId: first, status: "stopped" } });
    const next = await bridge.waitFor(
      (m): m is Extract<SessionCommand, { type: "command.prompt" }> => m.type === "command.prompt" && m.promptId !== first,
    );
    expect(next.promptId).toBe(third);
    const types = (await call("GET", `/api/sessions/${sessionId}/events?after=0&limit=1000`)).json.events.map(
      (e: { payload: { type: string } }) => e.payload.type,
    );
    expect(types).toContain("prompt.cancelled");
    expect(types).toContain("stop.requested");
    expect((await call("POST", `/api/sessions/${sessionId}/stop`)).status).toBe(200);
    bridge.close();
  });
});

describe("invalid frames", () => {
  const cases: [string, string, string][] = [
    ["bad JSON", "{not json", "INVALID_JSON"],
    ["an unknown type", JSON.stringify({ type: "launch.missiles" }), "UNKNOWN_MESSAGE_TYPE"],
    ["a frame that is not an object", JSON.stringify([1, 2, 3]), "INVALID_FRAME"],
    ["wrong field types", JSON.stringify({ type: "prompt.send", requestId: 42, text: ["x"] }), "INVALID_FRAME"],
    ["an empty prompt", JSON.stringify({ type: "prompt.send", requestId: "r", text: "   " }), "INVALID_FRAME"],
    ["an oversized frame", JSON.stringify({ type: "prompt.send", requestId: "big", text: "x".repeat(MAX_FRAME_BYTES) }), "FRAME_TOO_LARGE"],
  ];

  it.each(cases)("answers %s from a client with a typed error and changes nothing", async (_name, frame, code) => {
    const { sessionId } = await createRepositoryAndSession(cookie);
    const peer = await subscribe(cookie, sessionId);
    const before = (await api(cookie)("GET", `/api/sessions/${sessionId}`)).json;
    peer.send(frame);
    const error = await peer.waitFor(isError);
    expect(error.code).toBe(code);
    const after = (await api(cookie)("GET", `/api/sessions/${sessionId}`)).json;
    expect(after.latestSeq).toBe(before.latestSeq);
    expect(after.queue).toEqual(before.queue);
    // The socket stays usable.
    peer.send({ type: "ping" });
    await peer.waitFor((m) => m.type === "pong");
  });

  it.each(cases)("answers %s from a bridge with a typed error and stores nothing", async (_name, frame, code) => {
    const { sessionId } = await createRepositoryAndSession(cookie, { prompt: "start a sandbox" });
    const bridge = await connectBridge(sessionId);
    const before = await latestSeq(sessionId);
    bridge.send(frame.replace('"prompt.send"', '"bridge.event"'));
    const error = await bridge.waitFor((m) => m.type === "error");
    expect(error.type === "error" && error.code).toBe(code);
    expect(await latestSeq(sessionId)).toBe(before);
  });
});

describe("bridge sockets", () => {
  it("refuses a wrong token and another session's token", async () => {
    const a = await createRepositoryAndSession(cookie, { prompt: "sandbox a" });
    const b = await createRepositoryAndSession(cookie, { prompt: "sandbox b" });
    const sandboxA = await sandboxRequestFor(a.sessionId);
    const sandboxB = await sandboxRequestFor(b.sessionId);
    expect((await openBridge(a.sessionId, sandboxA.sandboxId, "wrong-token-".padEnd(43, "x"))).status).toBe(401);
    expect((await openBridge(a.sessionId, sandboxA.sandboxId, sandboxB.sandboxToken)).status).toBe(401);
    expect((await openBridge(a.sessionId, sandboxB.sandboxId, sandboxB.sandboxToken)).status).toBe(401);
    expect((await openBridge(a.sessionId, sandboxA.sandboxId, sandboxA.sandboxToken)).status).toBe(101);
  });

  it("keeps where an evolving row first appeared when it changes", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie, { prompt: "stream something" });
    const bridge = await connectBridge(sessionId);
    bridge.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready" } });
    const prompt = await bridge.waitFor((m): m is Extract<SessionCommand, { type: "command.prompt" }> => m.type === "command.prompt");
    const frame = (bseq: number, event: Record<string, unknown>) => ({
      type: "bridge.event",
      bseq,
      event: { promptId: prompt.promptId, ...event },
    });
    bridge.send(frame(2, { type: "message.text", messageId: "m1", text: "Hel" }));
    bridge.send(frame(3, { type: "tool.call", callId: "c1", tool: "bash", input: { command: "ls" }, state: "running" }));
    bridge.send(frame(4, { type: "message.text", messageId: "m1", text: "Hello" }));
    await bridge.waitFor((m) => m.type === "bridge.ack" && m.bseq === 4);
    const events = (await api(cookie)("GET", `/api/sessions/${sessionId}/events?after=0`)).json.events as {
      seq: number;
      firstSeq: number;
      payload: { type: string; text?: string };
    }[];
    const message = events.find((e) => e.payload.type === "message.text")!;
    const toolCall = events.find((e) => e.payload.type === "tool.call")!;
    expect(message.payload.text).toBe("Hello");
    expect(message.seq).toBeGreaterThan(toolCall.seq);
    expect(message.firstSeq).toBeLessThan(toolCall.firstSeq);
    // A replay over the socket carries the same positions.
    const peer = await subscribe(cookie, sessionId);
    expect(eventsOf(peer).find((e) => e.payload.type === "message.text")?.firstSeq).toBe(message.firstSeq);
  });

  it("stores a re-sent event once and acknowledges it again", async () => {
    const { sessionId } = await createRepositoryAndSession(cookie, { prompt: "write a file" });
    const bridge = await connectBridge(sessionId);
    bridge.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready" } });
    const prompt = await bridge.waitFor((m): m is Extract<SessionCommand, { type: "command.prompt" }> => m.type === "command.prompt");
    const text = {
      type: "bridge.event",
      bseq: 2,
      event: { type: "message.text", promptId: prompt.promptId, messageId: "m1", text: "Hello" },
    };
    const finished = { type: "bridge.event", bseq: 3, event: { type: "prompt.finished", promptId: prompt.promptId, status: "completed" } };
    bridge.send(text);
    bridge.send(finished);
    await bridge.waitFor((m) => m.type === "bridge.ack" && m.bseq === 3);
    const seq = await latestSeq(sessionId);
    // The bridge reconnects and re-sends both.
    bridge.close();
    const again = await connectBridge(sessionId);
    const welcome = await again.waitFor((m) => m.type === "bridge.welcome");
    expect(welcome.type === "bridge.welcome" && welcome.lastBseq).toBe(3);
    again.send(text);
    again.send(finished);
    await again.waitFor((m) => m.type === "bridge.ack" && m.bseq === 3);
    expect(await latestSeq(sessionId)).toBe(seq);
    const events = (await api(cookie)("GET", `/api/sessions/${sessionId}/events?after=0`)).json.events;
    expect(events.filter((e: { payload: { type: string } }) => e.payload.type === "prompt.finished")).toHaveLength(1);
  });
});
