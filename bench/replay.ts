import { performance } from "node:perf_hooks";
import { benchEvent, visitBenchEvents } from "./lib/bench-events.ts";
import type { Benchmark, BenchContext } from "./lib/context.ts";
import { typeOf } from "./lib/json-socket.ts";
import { median, type Summary, summarize } from "./lib/stats.ts";
import { count, ms, ratio, type Table } from "./lib/table.ts";
import type { Channel, Target } from "./lib/target.ts";

const EVENTS = 10_000;
const REPEATS = 5;
/** Events in flight while appending: enough to keep the server busy, few enough to stay fair. */
const APPEND_WINDOW = 100;
const APPEND_TIMEOUT_MS = 120_000;
const REPLAY_TIMEOUT_MS = 60_000;
const RUN = "replay";

interface Append {
  eventsPerSecond: number;
  ack: Summary;
}

/** Appends `EVENTS` bench events as fast as acknowledgements allow, `APPEND_WINDOW` at a time. */
async function append(channel: Channel): Promise<Append> {
  const { publisher, promptId } = channel;
  const start = performance.now();
  for (let index = 0; index < EVENTS; index++) {
    if (index >= APPEND_WINDOW) await publisher.whenAcked(index - APPEND_WINDOW + 1, APPEND_TIMEOUT_MS);
    publisher.publish(benchEvent(promptId, RUN, index, performance.now()));
  }
  await publisher.whenAcked(EVENTS, APPEND_TIMEOUT_MS);
  return { eventsPerSecond: (EVENTS * 1000) / (performance.now() - start), ack: summarize(publisher.ackRoundTripsMs.toArray()) };
}

interface Replay {
  totalMs: number;
  firstEventMs: number;
  frames: number;
  events: number;
}

/** Subscribes a new client from the start and times it until `subscribed`, checking it got every event once. */
async function replay(channel: Channel): Promise<Replay> {
  const socket = await channel.openSubscriber();
  const seen = new Uint8Array(EVENTS);
  let unique = 0;
  let frames = 0;
  let events = 0;
  let firstEventAt = Number.NaN;
  const start = performance.now();
  const done = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`replay did not finish within ${REPLAY_TIMEOUT_MS}ms (${unique} events)`)),
      REPLAY_TIMEOUT_MS,
    );
    socket.stream(({ message, receivedAt }) => {
      const inFrame = visitBenchEvents(message, (event) => {
        if (event.run !== RUN || seen[event.index]) return;
        seen[event.index] = 1;
        unique++;
      });
      if (inFrame > 0) {
        frames++;
        events += inFrame;
        if (Number.isNaN(firstEventAt)) firstEventAt = receivedAt;
      }
      if (typeOf(message) === "subscribed") {
        clearTimeout(timer);
        resolve(receivedAt);
      }
    });
  });
  socket.send({ type: "subscribe", afterSeq: 0 });
  const end = await done;
  await socket.close();
  if (unique !== EVENTS) throw new Error(`replay delivered ${unique} of ${EVENTS} distinct events`);
  return { totalMs: end - start, firstEventMs: firstEventAt - start, frames, events };
}

interface TargetResult {
  target: string;
  append: Append;
  replays: Replay[];
}

export const replayBenchmark: Benchmark = {
  name: "replay",
  title: "Replay",
  method: [
    `${count(EVENTS)} \`message.text\` events (~300 bytes each, one row each) are appended through the publisher socket`,
    `(Lookout: a session's bridge; ${APPEND_WINDOW} unacknowledged events at most), then a new client sends`,
    "`subscribe {afterSeq: 0}` and is timed until its `subscribed` frame, having received every event exactly once.",
    `Lookout sends history in batched \`events\` frames; the baseline sends one frame per stored row. ${REPEATS} runs per`,
    "target, alternating, each on a fresh socket; the table shows medians.",
  ].join(" "),

  async run(context: BenchContext): Promise<Table[]> {
    const targets: Target[] = await Promise.all([context.lookout(), context.baseline()]);
    const results: TargetResult[] = [];
    const channels: Channel[] = [];
    try {
      for (const target of targets) {
        const channel = await target.openChannel("replay");
        channels.push(channel);
        context.say(`${target.name}: appending ${count(EVENTS)} events`);
        const appended = await append(channel);
        context.say(`  ${appended.eventsPerSecond.toFixed(0)} events/s, ack p50 ${ms(appended.ack.p50)} ms`);
        results.push({ target: target.name, append: appended, replays: [] });
      }
      for (let run = 1; run <= REPEATS; run++) {
        for (const [index, channel] of channels.entries()) {
          const result = results[index]!;
          const replayed = await replay(channel);
          context.say(`${result.target}: replay ${run}/${REPEATS} took ${ms(replayed.totalMs)} ms in ${count(replayed.frames)} frames`);
          result.replays.push(replayed);
        }
      }
      return [replayTable(results), appendTable(results)];
    } finally {
      await Promise.all(channels.map((channel) => channel.publisher.close()));
    }
  },
};

function replayTable(results: readonly TargetResult[]): Table {
  const medianOf = (result: TargetResult | undefined, pick: (replay: Replay) => number) =>
    result ? median(result.replays.map(pick)) : NaN;
  const rows = results.map((result) => {
    const totals = result.replays.map((replay) => replay.totalMs);
    return [
      result.target,
      count(result.replays[0]?.events ?? 0),
      count(result.replays[0]?.frames ?? 0),
      ms(medianOf(result, (replay) => replay.firstEventMs)),
      ms(medianOf(result, (replay) => replay.totalMs)),
      `${ms(Math.min(...totals))}–${ms(Math.max(...totals))}`,
      count(Math.round((EVENTS * 1000) / medianOf(result, (replay) => replay.totalMs))),
    ];
  });
  const [subject, baseline] = results;
  return {
    title: `Replay of ${count(EVENTS)} events to a new subscriber (median of ${REPEATS}, ms)`,
    columns: ["target", "events sent", "frames", "first event", "all events + subscribed", "range", "events/s"],
    rows,
    notes: [
      `${subject?.target ?? "?"} / ${baseline?.target ?? "?"}: ${ratio(
        medianOf(subject, (replay) => replay.totalMs),
        medianOf(baseline, (replay) => replay.totalMs),
      )} of the time (lower is better for ${subject?.target ?? "?"}).`,
      "Lookout's replay also carries the session's own few events (session.created, prompt.queued, sandbox status, prompt.started).",
    ],
  };
}

function appendTable(results: readonly TargetResult[]): Table {
  const [subject, baseline] = results;
  return {
    title: `Appending ${count(EVENTS)} events with ${APPEND_WINDOW} in flight (no subscribers)`,
    columns: ["target", "events/s", "ack p50 (ms)", "ack p99 (ms)"],
    rows: results.map((result) => [
      result.target,
      result.append.eventsPerSecond.toFixed(0),
      ms(result.append.ack.p50),
      ms(result.append.ack.p99),
    ]),
    notes: [
      `${subject?.target ?? "?"} / ${baseline?.target ?? "?"} throughput: ${ratio(subject?.append.eventsPerSecond ?? NaN, baseline?.append.eventsPerSecond ?? NaN)}.`,
    ],
  };
}
