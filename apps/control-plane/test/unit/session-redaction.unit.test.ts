import { type SessionCommand, type SessionEvent, SOCKET_CLOSE_CODES } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { secretMarker } from "../../src/session/redaction";
import { SessionCore } from "../../src/session/session-core";
import { nodeSql } from "./sqlite-port";
import { type FakeSocket, Harness } from "./harness";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;

/** The harness gives every sandbox `API_TOKEN=s3cret`. */
const SECRET = "s3cret";

async function runningSession() {
  const h = new Harness();
  h.create("print the token");
  await h.settle();
  const bridge = h.bridge();
  await h.settle();
  const command = bridge.messages<PromptCommand>("command.prompt")[0];
  if (!command) throw new Error("the prompt was not dispatched");
  const token = h.gateway.created[0]!.sandboxToken;
  return { h, bridge, promptId: command.promptId, token };
}

/** Everything the session stored, as the JSON a replay sends. */
function storedJson(core: SessionCore): string {
  return JSON.stringify(core.eventsAfter(0, 10_000).events);
}

function acked(bridge: FakeSocket): number[] {
  return bridge.messages<{ type: "bridge.ack"; bseq: number }>("bridge.ack").map((ack) => ack.bseq);
}

/**
 * The same object after a restart: a new core over the same SQLite and sockets, whose secret
 * lookups are the test's to answer, as the Durable Object's are after hibernation or eviction.
 */
function restart(h: Harness, secretsFor: () => Promise<Record<string, string>>) {
  const pending: Promise<unknown>[] = [];
  const sql = nodeSql(h.db);
  const core = new SessionCore({
    sql,
    now: () => h.now,
    sockets: () => [...h.sockets.values()].filter((socket) => !socket.closed),
    gateway: h.gateway,
    index: { write: async () => undefined },
    armAlarm: () => undefined,
    defer: (work) => void pending.push(work),
    secretsFor,
    publicUrl: "http://127.0.0.1:8787",
  });
  const settle = async (): Promise<void> => {
    while (pending.length > 0) await Promise.allSettled(pending.splice(0));
  };
  return { core, settle };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("secrets in bridge events", () => {
  it("are hidden in the stored log and in what subscribers receive live, with the sandbox token", async () => {
    const { h, bridge, promptId, token } = await runningSession();
    const alice = h.client("alice");
    expect(token.startsWith("lks_")).toBe(true);
    bridge.emit(h.core, {
      type: "tool.call",
      promptId,
      callId: "c1",
      tool: "bash",
      input: { command: "env" },
      state: "completed",
      output: `API_TOKEN=${SECRET}\nLOOKOUT_SANDBOX_TOKEN=${token}\n`,
    });
    bridge.emit(h.core, { type: "message.text", promptId, messageId: "m1", text: `The token is ${SECRET}.` });

    const tool = h.core.eventsAfter(0, 100).events.find((event) => event.key === "tool:c1")!.payload;
    expect(tool).toMatchObject({
      output: `API_TOKEN=${secretMarker("API_TOKEN")}\nLOOKOUT_SANDBOX_TOKEN=${secretMarker("LOOKOUT_SANDBOX_TOKEN")}\n`,
      secretsHidden: 2,
    });
    const live = JSON.stringify(alice.messages("events"));
    for (const text of [storedJson(h.core), live]) {
      expect(text).toContain(secretMarker("API_TOKEN"));
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(token);
    }
    expect(acked(bridge)).toEqual([1, 2, 3]);
  });

  it("are hidden in every state of a streamed message whose secret arrives split across chunks", async () => {
    const { h, bridge, promptId } = await runningSession();
    const alice = h.client("alice");
    const chunks = ["Here it is: s3", "Here it is: s3cr", `Here it is: ${SECRET} done`];
    for (const text of chunks) bridge.emit(h.core, { type: "message.text", promptId, messageId: "m1", text });
    const states = alice
      .messages<{ type: "events"; events: SessionEvent[] }>("events")
      .flatMap((frame) => frame.events)
      .filter((event) => event.key === "text:m1")
      .map((event) => (event.payload.type === "message.text" ? event.payload.text : ""));
    expect(states).toEqual(["Here it is: s3", `Here it is: ${secretMarker("API_TOKEN")}`, `Here it is: ${secretMarker("API_TOKEN")} done`]);
    expect(storedJson(h.core)).not.toContain("s3cr");
  });

  it("wait after a restart until the secrets are loaded again, then are stored redacted and in order", async () => {
    const { h, bridge, promptId, token } = await runningSession();
    const lookup = deferred<Record<string, string>>();
    const restarted = restart(h, () => lookup.promise);
    const before = restarted.core.eventsAfter(0, 1000).latestSeq;
    bridge.emit(restarted.core, { type: "message.text", promptId, messageId: "m1", text: `first ${SECRET}` });
    bridge.emit(restarted.core, { type: "agent.error", promptId, message: `auth failed for ${token}` });
    expect(restarted.core.eventsAfter(0, 1000).latestSeq).toBe(before);
    expect(acked(bridge)).toEqual([1]);

    lookup.resolve({ API_TOKEN: SECRET });
    await restarted.settle();
    expect(acked(bridge)).toEqual([1, 2, 3]);
    const added = restarted.core.eventsAfter(before, 1000).events.map((event) => event.payload);
    expect(added).toEqual([
      { type: "message.text", promptId, messageId: "m1", text: `first ${secretMarker("API_TOKEN")}`, role: "assistant", secretsHidden: 1 },
      // The token's value died with the old object; its prefix still gives it away.
      { type: "agent.error", promptId, message: `auth failed for ${secretMarker("Lookout sandbox token")}`, secretsHidden: 1 },
    ]);
  });

  it("are never stored unredacted when the secrets cannot be loaded: the bridge is sent away to re-send later", async () => {
    const { h, bridge, promptId } = await runningSession();
    const broken = restart(h, () => Promise.reject(new Error("SECRETS_ENCRYPTION_KEYS is broken")));
    const before = broken.core.eventsAfter(0, 1000).latestSeq;
    bridge.emit(broken.core, { type: "message.text", promptId, messageId: "m1", text: `leak ${SECRET}` });
    await broken.settle();
    expect(bridge.closeCode).toBe(SOCKET_CLOSE_CODES.UNAVAILABLE);
    expect(broken.core.eventsAfter(0, 1000).latestSeq).toBe(before);
    expect(storedJson(broken.core)).not.toContain(SECRET);
    expect(acked(bridge)).toEqual([1]);
  });
});
