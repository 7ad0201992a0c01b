import { BridgeMessage, type SessionCommand } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../test/support/fake-clock";
import { BridgeConnection, type AgentCommand, type SocketHandlers, type SocketLike } from "./connection";
import { silentLogger } from "./logger";
import { Outbox } from "./outbox";

/** A socket the test drives by hand. */
class FakeSocket implements SocketLike {
  readonly sent: BridgeMessage[] = [];
  pings = 0;
  closed: { code: number; reason: string } | undefined;
  terminated = false;

  constructor(
    readonly url: string,
    readonly headers: Record<string, string>,
    readonly handlers: SocketHandlers,
  ) {}

  send(data: string): void {
    this.sent.push(BridgeMessage.parse(JSON.parse(data)));
  }
  ping(): void {
    this.pings++;
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  terminate(): void {
    this.terminated = true;
    this.handlers.onClose(1006, "");
  }
  open(): void {
    this.handlers.onOpen();
  }
  receive(command: SessionCommand | Record<string, unknown> | string): void {
    this.handlers.onMessage(typeof command === "string" ? command : JSON.stringify(command));
  }
  events(): Array<{ bseq: number; type: string }> {
    return this.sent.flatMap((m) => (m.type === "bridge.event" ? [{ bseq: m.bseq, type: m.event.type }] : []));
  }
}

function setup(options: { livenessTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const commands: AgentCommand[] = [];
  const fatal: number[] = [];
  const connection = new BridgeConnection({
    url: "ws://cp/api/sessions/s/bridge",
    headers: { authorization: "Bearer t", "x-lookout-sandbox-id": "sbx" },
    outbox: new Outbox(100),
    clock,
    logger: silentLogger,
    socketFactory: (url, headers, handlers) => {
      const socket = new FakeSocket(url, headers, handlers);
      sockets.push(socket);
      return socket;
    },
    heartbeatIntervalMs: 10_000,
    livenessTimeoutMs: options.livenessTimeoutMs ?? 0,
    backoff: { baseMs: 1_000, maxMs: 8_000 },
    random: () => 1,
    onCommand: (command) => commands.push(command),
    onFatal: (code) => fatal.push(code),
  });
  connection.start();
  const socket = (i: number): FakeSocket => {
    const s = sockets[i];
    if (!s) throw new Error(`no socket #${i}`);
    return s;
  };
  return { clock, sockets, socket, commands, fatal, connection };
}

const text = (t: string) => ({ type: "message.text" as const, promptId: "p", messageId: "m", text: t, role: "assistant" as const });

describe("BridgeConnection", () => {
  it("dials with the bridge's headers and sends nothing before the welcome", () => {
    const { socket, connection } = setup();
    expect(socket(0).headers).toEqual({ authorization: "Bearer t", "x-lookout-sandbox-id": "sbx" });
    socket(0).open();
    connection.send({ type: "bridge.ready" });
    expect(socket(0).sent).toEqual([]);
    socket(0).receive({ type: "bridge.welcome", lastBseq: 0 });
    expect(socket(0).events()).toEqual([{ bseq: 1, type: "bridge.ready" }]);
    connection.send(text("a"));
    expect(
      socket(0)
        .events()
        .map((e) => e.bseq),
    ).toEqual([1, 2]);
  });

  it("reconnects with backoff and re-sends exactly what the session has not stored", () => {
    const { clock, socket, sockets, connection } = setup();
    socket(0).open();
    socket(0).receive({ type: "bridge.welcome", lastBseq: 0 });
    for (const t of ["a", "b", "c"]) connection.send(text(t));
    socket(0).receive({ type: "bridge.ack", bseq: 1 });
    socket(0).terminate();
    connection.send(text("d"));

    // random() = 1 gives the ceiling of each backoff window: 1 s, then 2 s, …
    clock.advance(999);
    expect(sockets).toHaveLength(1);
    clock.advance(1);
    expect(sockets).toHaveLength(2);
    socket(1).open();
    socket(1).receive({ type: "bridge.welcome", lastBseq: 2 });
    expect(socket(1).events()).toEqual([
      { bseq: 3, type: "message.text" },
      { bseq: 4, type: "message.text" },
    ]);
  });

  it("grows the backoff while attempts fail and resets it after a welcome", () => {
    const { clock, socket, sockets } = setup();
    socket(0).terminate();
    clock.advance(1_000);
    socket(1).terminate();
    clock.advance(1_999);
    expect(sockets).toHaveLength(2);
    clock.advance(1);
    expect(sockets).toHaveLength(3);
    socket(2).open();
    socket(2).receive({ type: "bridge.welcome", lastBseq: 0 });
    socket(2).terminate();
    clock.advance(1_000);
    expect(sockets).toHaveLength(4);
  });

  it.each([4401, 4403, 4409, 4410])("stops for good when the session closes with %i", (code) => {
    const { clock, socket, sockets, fatal } = setup();
    socket(0).open();
    socket(0).handlers.onClose(code, "refused");
    clock.advance(60_000);
    expect(fatal).toEqual([code]);
    expect(sockets).toHaveLength(1);
  });

  it("passes commands on, handles acks itself and ignores invalid frames", () => {
    const { socket, commands } = setup();
    socket(0).open();
    socket(0).receive({ type: "bridge.welcome", lastBseq: 0 });
    socket(0).receive("not json");
    socket(0).receive({ type: "command.unknown" });
    socket(0).receive({ type: "command.stop" });
    socket(0).receive({ type: "command.stop", promptId: "p1" });
    socket(0).receive({ type: "error", code: "X", message: "y" });
    expect(commands).toEqual([{ type: "command.stop", promptId: "p1" }]);
  });

  it("sends heartbeats and pings on its interval", () => {
    const { clock, socket } = setup();
    socket(0).open();
    socket(0).receive({ type: "bridge.welcome", lastBseq: 0 });
    clock.advance(30_000);
    expect(
      socket(0)
        .sent.filter((m) => m.type === "bridge.heartbeat")
        .map((m) => m.type === "bridge.heartbeat" && m.at),
    ).toEqual([10_000, 20_000, 30_000]);
    expect(socket(0).pings).toBe(3);
  });

  it("re-sends critical events that stay unacknowledged on a live socket", () => {
    const { clock, socket, connection } = setup();
    socket(0).open();
    socket(0).receive({ type: "bridge.welcome", lastBseq: 0 });
    connection.send({ type: "prompt.finished", promptId: "p", status: "completed" });
    connection.send(text("a"));
    clock.advance(40_000);
    expect(
      socket(0)
        .events()
        .filter((e) => e.bseq === 1).length,
    ).toBe(2);
    expect(
      socket(0)
        .events()
        .filter((e) => e.bseq === 2).length,
    ).toBe(1);
  });

  it("drops a silent connection after the liveness timeout", () => {
    const { clock, socket, sockets } = setup({ livenessTimeoutMs: 25_000 });
    socket(0).open();
    socket(0).receive({ type: "bridge.welcome", lastBseq: 0 });
    clock.advance(20_000);
    socket(0).handlers.onPong();
    clock.advance(20_000);
    expect(socket(0).terminated).toBe(false);
    clock.advance(20_000);
    expect(socket(0).terminated).toBe(true);
    clock.advance(1_000);
    expect(sockets).toHaveLength(2);
  });

  it("resolves drain once critical events are acknowledged", async () => {
    const { socket, connection } = setup();
    socket(0).open();
    socket(0).receive({ type: "bridge.welcome", lastBseq: 0 });
    connection.send({ type: "agent.error", message: "x" });
    const drained = connection.drain(5_000);
    socket(0).receive({ type: "bridge.ack", bseq: 1 });
    await expect(drained).resolves.toBe(true);
  });

  it("closes without reconnecting", () => {
    const { clock, socket, sockets, connection } = setup();
    socket(0).open();
    connection.close();
    expect(socket(0).closed?.code).toBe(1000);
    socket(0).handlers.onClose(1000, "");
    clock.advance(60_000);
    expect(sockets).toHaveLength(1);
  });
});

describe("reconnect backoff", () => {
  it("by default redials after 0.5 s to 30 s with jitter in the upper half of each window", () => {
    const clock = new FakeClock();
    const sockets: FakeSocket[] = [];
    const connection = new BridgeConnection({
      url: "ws://cp/api/sessions/s/bridge",
      headers: {},
      outbox: new Outbox(100),
      clock,
      logger: silentLogger,
      socketFactory: (url, headers, handlers) => {
        const socket = new FakeSocket(url, headers, handlers);
        sockets.push(socket);
        return socket;
      },
      heartbeatIntervalMs: 10_000,
      livenessTimeoutMs: 0,
      random: () => 0,
      onCommand: () => undefined,
      onFatal: () => undefined,
    });
    connection.start();
    // random() = 0 gives the floor of each window: half of 0.5 s, 1 s, 2 s, … capped at 30 s.
    const waits: number[] = [];
    for (let dials = 1; dials <= 8; dials++) {
      const before = clock.now();
      sockets[dials - 1]?.terminate();
      // Step a millisecond at a time up to a minute, so the wait is measured exactly.
      while (sockets.length === dials && clock.now() - before < 60_000) clock.advance(1);
      waits.push(clock.now() - before);
    }
    expect(waits).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
    connection.close();
  });
});
