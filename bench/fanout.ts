import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { benchEvent, type DeliveredEvent, visitBenchEvents } from "./lib/bench-events.ts";
import type { Benchmark, BenchContext } from "./lib/context.ts";
import { type JsonSocket, typeOf } from "./lib/json-socket.ts";
import { Samples, type Summary, summarize } from "./lib/stats.ts";
import { count, ms, ratio, type Table } from "./lib/table.ts";
import type { Publisher } from "./lib/publisher.ts";
import type { Channel, Target } from "./lib/target.ts";

const CLIENTS = 100;
/**
 * The rates under test. 50/s and 100/s with 2,000 events each are the target load; the slow run
 * first shows latency below saturation, for when a machine cannot sustain the target load (under
 * `wrangler dev` a 2-core machine delivers roughly 2,000–3,000 frames/s in total, i.e. ~20–30
 * events/s to 100 clients, for Lookout and the baseline alike).
 */
const RUNS = [
  { ratePerSecond: 10, events: 300 },
  { ratePerSecond: 50, events: 2_000 },
  { ratePerSecond: 100, events: 2_000 },
] as const;
/** Events sent (and not measured) before the first run, so both servers are warm. */
const WARMUP = { ratePerSecond: 20, events: 100 } as const;
/** How many clients connect at once while setting up. */
const CONNECT_CONCURRENCY = 10;
/** A run ends when everything arrived, or when nothing more arrived for this long. */
const STALL_TIMEOUT_MS = 15_000;
/** How often a run checks for completion once everything is sent. */
const DRAIN_POLL_MS = 100;

/** Every delivery of one run of events at one rate, across all clients. */
class Phase {
  readonly latenciesMs = new Samples();
  /** Per event, the latency of the client that got it last: when the fan-out was complete. */
  readonly lastClientMs: Float64Array;
  /** Per event, when it was sent (ms after the phase started). */
  readonly sentOffsetMs: Float64Array;
  private readonly deliveries: Uint8Array;
  private readonly lastSeqByClient: Float64Array;
  firstDeliveries = 0;
  duplicates = 0;
  outOfOrder = 0;
  lastReceivedAt = Number.NaN;

  constructor(
    readonly run: string,
    readonly events: number,
    readonly clients: number,
  ) {
    this.lastClientMs = new Float64Array(events);
    this.sentOffsetMs = new Float64Array(events);
    this.deliveries = new Uint8Array(events * clients);
    this.lastSeqByClient = new Float64Array(clients);
  }

  get expected(): number {
    return this.events * this.clients;
  }

  get missing(): number {
    return this.expected - this.firstDeliveries;
  }

  record(client: number, event: DeliveredEvent, receivedAt: number): void {
    if (event.seq <= this.lastSeqByClient[client]!) this.outOfOrder++;
    this.lastSeqByClient[client] = event.seq;
    const slot = client * this.events + event.index;
    if (this.deliveries[slot]! > 0) {
      this.duplicates++;
      return;
    }
    this.deliveries[slot] = 1;
    this.firstDeliveries++;
    this.lastReceivedAt = receivedAt;
    const latency = receivedAt - event.sentAt;
    this.latenciesMs.push(latency);
    if (latency > this.lastClientMs[event.index]!) this.lastClientMs[event.index] = latency;
  }
}

/** A channel with its subscribed clients, routing each delivery to the phase being measured. */
class Audience {
  phase: Phase | null = null;
  strays = 0;

  private constructor(
    readonly target: Target,
    readonly channel: Channel,
    private readonly sockets: JsonSocket[],
  ) {}

  static async gather(target: Target, clients: number): Promise<Audience> {
    const channel = await target.openChannel("fanout");
    const sockets: JsonSocket[] = [];
    const audience = new Audience(target, channel, sockets);
    for (let first = 0; first < clients; first += CONNECT_CONCURRENCY) {
      const batch = Array.from({ length: Math.min(CONNECT_CONCURRENCY, clients - first) }, (_, offset) =>
        audience.subscribe(first + offset),
      );
      sockets.push(...(await Promise.all(batch)));
    }
    return audience;
  }

  private async subscribe(client: number): Promise<JsonSocket> {
    const socket = await this.channel.openSubscriber();
    socket.send({ type: "subscribe", afterSeq: 0 });
    await socket.next((message) => (typeOf(message) === "subscribed" ? true : undefined));
    socket.stream(({ message, receivedAt }) => {
      visitBenchEvents(message, (event) => {
        if (this.phase && event.run === this.phase.run) this.phase.record(client, event, receivedAt);
        else this.strays++;
      });
    });
    return socket;
  }

  get size(): number {
    return this.sockets.length;
  }

  get disconnected(): number {
    return this.sockets.filter((socket) => socket.closed !== null).length;
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map((socket) => socket.close()));
    await this.channel.publisher.close();
  }
}

interface PhaseResult {
  target: string;
  ratePerSecond: number;
  events: number;
  achievedPerSecond: number;
  /** Events delivered to every client per second, first send to last delivery: the capacity when saturated. */
  completedPerSecond: number;
  latency: Summary;
  lastClient: Summary;
  ack: Summary;
  /** The server's CPU time per event, first send to last delivery (its processes' user + system time). */
  cpuPerEventMs: number;
  missing: number;
  duplicates: number;
  outOfOrder: number;
  disconnected: number;
}

/**
 * Waits until `done`, or until `progress` has not moved for `STALL_TIMEOUT_MS` (a saturated server
 * is slow, not stuck). A publisher that can no longer publish ends the benchmark.
 */
async function drain(publisher: Publisher, progress: () => number, done: () => boolean): Promise<void> {
  let last = progress();
  let lastMovedAt = performance.now();
  while (!done() && performance.now() - lastMovedAt < STALL_TIMEOUT_MS) {
    if (publisher.failed) throw publisher.failed;
    await sleep(DRAIN_POLL_MS);
    const now = progress();
    if (now !== last) {
      last = now;
      lastMovedAt = performance.now();
    }
  }
}

/**
 * With `LOOKOUT_BENCH_TRACE=<dir>`, each run's per-event timeline is written to
 * `<dir>/<target>-<run>.csv` (send time after the run started, and the last client's latency), so
 * stalls can be placed in time: a periodic one shows as evenly spaced spikes.
 */
function writeTrace(target: string, phase: Phase): void {
  const dir = process.env.LOOKOUT_BENCH_TRACE;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const lines = ["index,sent_ms,last_client_ms"];
  for (let index = 0; index < phase.events; index++)
    lines.push(`${index},${phase.sentOffsetMs[index]!.toFixed(1)},${phase.lastClientMs[index]!.toFixed(2)}`);
  writeFileSync(join(dir, `${target}-${phase.run}.csv`), `${lines.join("\n")}\n`);
}

/** Publishes `events` at a fixed rate (open loop: a late send does not delay the next one's slot). */
async function runPhase(audience: Audience, run: string, events: number, ratePerSecond: number): Promise<PhaseResult> {
  const { publisher, promptId } = audience.channel;
  const phase = new Phase(run, events, audience.size);
  audience.phase = phase;
  const acksBefore = publisher.ackRoundTripsMs.length;
  const ackedBefore = publisher.acked;
  const intervalMs = 1000 / ratePerSecond;
  const cpuBefore = audience.target.serverCpuMs();
  const start = performance.now();
  let lastSend = start;
  for (let index = 0; index < events; index++) {
    const wait = start + index * intervalMs - performance.now();
    if (wait >= 1) await sleep(wait);
    lastSend = performance.now();
    phase.sentOffsetMs[index] = lastSend - start;
    publisher.publish(benchEvent(promptId, run, index, lastSend));
  }
  await drain(
    publisher,
    () => publisher.acked + phase.firstDeliveries + phase.duplicates,
    () => publisher.acked >= ackedBefore + events && phase.missing === 0,
  );
  const cpuMs = audience.target.serverCpuMs() - cpuBefore;
  audience.phase = null;
  writeTrace(audience.target.name, phase);
  return {
    target: audience.target.name,
    ratePerSecond,
    events,
    achievedPerSecond: ((events - 1) * 1000) / (lastSend - start),
    completedPerSecond: (events * 1000) / (phase.lastReceivedAt - start),
    latency: summarize(phase.latenciesMs.toArray()),
    lastClient: summarize(phase.lastClientMs),
    ack: summarize(publisher.ackRoundTripsMs.toArray().subarray(acksBefore)),
    cpuPerEventMs: cpuMs / events,
    missing: phase.missing,
    duplicates: phase.duplicates,
    outOfOrder: phase.outOfOrder,
    disconnected: audience.disconnected,
  };
}

export const fanout: Benchmark = {
  name: "fanout",
  title: "Fan-out latency",
  method: [
    `One publisher pushes \`message.text\` events (each a new row, ~300 bytes, carrying its send time) to ${CLIENTS} subscribed`,
    `WebSocket clients, all in the benchmark process, at ${RUNS.map((run) => `${run.ratePerSecond}/s (${count(run.events)} events)`).join(", ")}.`,
    "Sends are open-loop: each event has a fixed slot, so a slow server builds a backlog instead of slowing the sender.",
    "Lookout: the real control plane under `wrangler dev`; events enter through a session's bridge socket (the benchmark",
    "plays the sandbox: token from a fake gateway, `bridge.ready`, `command.prompt`). Baseline: a minimal Durable Object",
    "(`bench/baseline/`) that stores each frame in SQLite and rebroadcasts it over hibernating sockets. Latency is send →",
    'receive at each client; "last client" is, per event, the latency of the client that got it last; "done/s" is events',
    'delivered to every client per second from first send to last delivery (the capacity once saturated); "ack" is the',
    `publisher's send → acknowledgement round trip; "server CPU/event" is the server's processes' user + system CPU time`,
    "from the run's first send to its last delivery, divided by its events (other load on the machine does not inflate it).",
    `Both servers are warmed with ${WARMUP.events} events and measured alternately at each rate.`,
  ].join(" "),

  async run(context: BenchContext): Promise<Table[]> {
    const targets: Target[] = await Promise.all([context.lookout(), context.baseline()]);
    const audiences: Audience[] = [];
    const results: PhaseResult[] = [];
    try {
      for (const target of targets) {
        context.say(`${target.name}: connecting ${CLIENTS} clients`);
        audiences.push(await Audience.gather(target, CLIENTS));
      }
      for (const audience of audiences) {
        context.say(`${audience.target.name}: warming up (${WARMUP.events} events)`);
        await runPhase(audience, "warmup", WARMUP.events, WARMUP.ratePerSecond);
      }
      for (const { ratePerSecond, events } of RUNS) {
        for (const audience of audiences) {
          context.say(`${audience.target.name}: ${count(events)} events at ${ratePerSecond}/s to ${CLIENTS} clients`);
          const result = await runPhase(audience, `r${ratePerSecond}`, events, ratePerSecond);
          context.say(
            `  p50 ${ms(result.latency.p50)} ms, p99 ${ms(result.latency.p99)} ms, ${result.completedPerSecond.toFixed(1)} events/s to all, server CPU ${ms(result.cpuPerEventMs)} ms/event, missing ${result.missing}, duplicates ${result.duplicates}; load ${loadavg()[0]!.toFixed(2)}`,
          );
          results.push(result);
        }
      }
      const strays = audiences.reduce((total, audience) => total + audience.strays, 0);
      return [latencyTable(results, strays), ratioTable(results, targets)];
    } finally {
      await Promise.all(audiences.map((audience) => audience.close()));
    }
  },
};

function latencyTable(results: readonly PhaseResult[], strays: number): Table {
  const total = (pick: (result: PhaseResult) => number) => results.reduce((sum, result) => sum + pick(result), 0);
  return {
    title: `Fan-out to ${CLIENTS} clients (latencies in ms)`,
    columns: [
      "target @ rate",
      "events",
      "sent/s",
      "done/s",
      "deliveries",
      "missing",
      "dup",
      "p50",
      "p90",
      "p99",
      "max",
      "last client p50",
      "last client p99",
      "ack p50",
      "ack p99",
      "server CPU/event",
    ],
    rows: results.map((result) => [
      `${result.target} @ ${result.ratePerSecond}/s`,
      count(result.events),
      result.achievedPerSecond.toFixed(1),
      result.completedPerSecond.toFixed(1),
      count(result.latency.count),
      count(result.missing),
      count(result.duplicates),
      ms(result.latency.p50),
      ms(result.latency.p90),
      ms(result.latency.p99),
      ms(result.latency.max),
      ms(result.lastClient.p50),
      ms(result.lastClient.p99),
      ms(result.ack.p50),
      ms(result.ack.p99),
      ms(result.cpuPerEventMs),
    ]),
    notes: [
      `Out-of-order deliveries: ${total((result) => result.outOfOrder)}; deliveries outside a measured run: ${strays}; clients disconnected: ${Math.max(0, ...results.map((result) => result.disconnected))}.`,
      "When done/s is below sent/s the server is saturated: latency then measures the backlog, not the path.",
    ],
  };
}

/** Below this share of the offered rate a run counts as saturated. */
const SATURATED_BELOW = 0.95;

function saturated(result: PhaseResult | undefined): boolean {
  return result !== undefined && result.completedPerSecond < SATURATED_BELOW * result.ratePerSecond;
}

function ratioTable(results: readonly PhaseResult[], targets: readonly Target[]): Table {
  const [subject, baseline] = targets;
  const rows = RUNS.map(({ ratePerSecond }) => {
    const of = (target: Target | undefined) =>
      results.find((result) => result.target === target?.name && result.ratePerSecond === ratePerSecond);
    const a = of(subject);
    const b = of(baseline);
    const overloaded = [a, b].filter(saturated).map((result) => result?.target);
    return [
      `${ratePerSecond}/s`,
      overloaded.length > 0 ? overloaded.join(", ") : "neither",
      ratio(a?.latency.p50 ?? NaN, b?.latency.p50 ?? NaN),
      ratio(a?.latency.p99 ?? NaN, b?.latency.p99 ?? NaN),
      ratio(a?.latency.max ?? NaN, b?.latency.max ?? NaN),
      ratio(a?.lastClient.p50 ?? NaN, b?.lastClient.p50 ?? NaN),
      ratio(a?.ack.p50 ?? NaN, b?.ack.p50 ?? NaN),
      ratio(a?.completedPerSecond ?? NaN, b?.completedPerSecond ?? NaN),
      ratio(a?.cpuPerEventMs ?? NaN, b?.cpuPerEventMs ?? NaN),
    ];
  });
  return {
    title: `Fan-out: ${subject?.name ?? "?"} / ${baseline?.name ?? "?"} (latency: lower is better for ${subject?.name ?? "?"}; done/s: higher is better)`,
    columns: ["rate", "saturated", "p50", "p99", "max", "last client p50", "ack p50", "done/s", "server CPU/event"],
    rows,
    notes: [
      `"Saturated" means done/s fell below ${Math.round(SATURATED_BELOW * 100)}% of the offered rate; a latency ratio where only one side is saturated compares a backlog with a path.`,
    ],
  };
}
