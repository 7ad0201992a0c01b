import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { apiClient, createRepoFixture, startStack } from "@lookout/e2e";
import type { Benchmark, BenchContext } from "./lib/context.ts";
import { OpencodeFloor } from "./lib/opencode-floor.ts";
import {
  buildImage,
  type Call,
  claimedFromPool,
  hasReadyImage,
  probePool,
  registerRepository,
  RUN_TIMEOUT_MS,
  setPoolSize,
  type Timing,
  timeNewSession,
  timeStart,
  waitForWarm,
} from "./lib/session-starts.ts";
import { percentile } from "./lib/stats.ts";
import { ms, ratio, type Table } from "./lib/table.ts";

/** Runs per mode; the issue asks for at least 10. */
const RUNS = Number(process.env.LOOKOUT_BENCH_SESSION_START_RUNS ?? 10);
/** The Lookout modes measured (the floor always is): every one unless `LOOKOUT_BENCH_SESSION_START_MODES` names some. */
const LOOKOUT_MODES = ["cold", "warm", "image"] as const;
type LookoutMode = (typeof LOOKOUT_MODES)[number];
const SELECTED_MODES = selectedModes(process.env.LOOKOUT_BENCH_SESSION_START_MODES);

function selectedModes(value: string | undefined): ReadonlySet<LookoutMode> {
  if (!value) return new Set(LOOKOUT_MODES);
  const names = value.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !(LOOKOUT_MODES as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`LOOKOUT_BENCH_SESSION_START_MODES: unknown mode ${unknown.join(", ")} (known: ${LOOKOUT_MODES.join(", ")})`);
  return new Set(names as LookoutMode[]);
}

/** One way a session can start, with its runs or why it was not measured. */
interface Mode {
  label: string;
  timings: Timing[];
  skipped?: string;
  /** The target for this mode, checked against the run's numbers. */
  target?: { text: string; met(mode: Summary, floor: Summary, floorStarting: Summary): boolean };
  notes: string[];
}

interface Summary {
  readyP50: number;
  readyP95: number;
  tokenP50: number;
  tokenP95: number;
}

/**
 * Session start on the real stack (`wrangler dev`, the sandbox gateway with bubblewrap sandboxes,
 * the bundled bridge, the real `opencode` binary, the scripted model), mode by mode, against the
 * floor: the same OpenCode and model with nothing of Lookout in between.
 */
export const sessionStart: Benchmark = {
  name: "session-start",
  title: "Session start",
  method: [
    "The whole local stack (wrangler dev, the sandbox gateway with the bubblewrap provider, the bridge, the real `opencode` binary, the scripted model).",
    "The clock starts when the prompt is accepted (Lookout: the `POST` returned; the floor: OpenCode's `promptAsync` returned) and stops when a subscribed client receives `sandbox.status: ready` and then the first streamed `message.text` (the floor: the first non-empty text or reasoning part of the answer on OpenCode's event stream).",
    "Floor: one `opencode serve` started by the benchmark outside any sandbox with the bridge's OpenCode configuration (`buildOpencodeConfig`, the scripted model as its OpenAI-compatible provider, reached directly) and the prepared OpenCode config directory, already running and prompted through the OpenCode SDK (a new OpenCode session per run, after one unmeasured prompt; sandbox ready is 0).",
    "Floor, OpenCode starting: a fresh `opencode serve` per run, timed from its spawn (ready: its health check answered).",
    "Cold: a new session on a local repository whose pool size is 0 (clone over the gateway's git endpoint, start OpenCode).",
    "From snapshot: the same session after its idle sandbox was snapshotted and stopped (inactivity timeout shortened to 1.5 s for the benchmark).",
    "Warm pool: a new session on a repository with pool size 1, each run after `GET /api/sandbox-pool` reports a warm sandbox for it.",
    "From image: a new session on a repository whose image was built first (`POST /api/repositories/:id/images`), pool size 0.",
    `${RUNS} runs per mode, one at a time. Ratios and differences are to the floor (already running) in the same run.`,
  ].join(" "),

  async run(context) {
    context.say("starting the full stack for session start");
    const stack = await startStack({
      vars: { LIFECYCLE_OVERRIDES: JSON.stringify({ inactivityTimeoutMs: 1_500 }) },
      // Test stacks keep no warm pool unless asked; `npm start` keeps one.
      gatewayEnv: { LOOKOUT_POOL: "on" },
    });
    const fixtures: string[] = [];
    const fixture = (name: string) => {
      const path = createRepoFixture({ "NAME.md": `${name}\n` });
      fixtures.push(path);
      return path;
    };
    try {
      const cookie = await stack.login();
      const call = apiClient(stack.url, cookie);
      const session = { call, stack, cookie };
      const [floor, floorStarting] = await measureFloor(context, fixture("floor"));
      const pool = await probePool(call);
      const notSelected = "not selected (LOOKOUT_BENCH_SESSION_START_MODES)";
      const [cold, snapshot] = SELECTED_MODES.has("cold")
        ? await measureColdAndSnapshot(context, session, fixture("cold"), pool.available)
        : [skipped("cold", notSelected), skipped("from snapshot", notSelected)];
      const warm = !SELECTED_MODES.has("warm")
        ? skipped("warm pool", notSelected)
        : pool.available
          ? await measureWarm(context, session, fixture("warm"))
          : skipped("warm pool", pool.reason);
      const image = SELECTED_MODES.has("image")
        ? await measureFromImage(context, session, fixture("image"), pool.available)
        : skipped("from image", notSelected);
      return [table([floor, floorStarting, cold, warm, snapshot, image])];
    } finally {
      // The stack's output (gateway, bridges, Worker), kept with `--keep`, shows where a start spent its time.
      writeFileSync(join(context.workDir, "session-start-stack.log"), stack.logs());
      copySandboxLogs(join(stack.stateDir, "gateway", "sandboxes"), join(context.workDir, "sandboxes"));
      await stack.stop();
      for (const path of fixtures) rmSync(path, { recursive: true, force: true });
    }
  },
};

interface LookoutSession {
  call: Call;
  stack: { url: string };
  cookie: string;
}

function skipped(label: string, reason: string): Mode {
  return { label, timings: [], skipped: reason, notes: [] };
}

async function measureFloor(context: BenchContext, repository: string): Promise<[Mode, Mode]> {
  const floor: Mode = { label: "floor: opencode serve running", timings: [], notes: [] };
  const starting: Mode = { label: "floor: opencode serve starting", timings: [], notes: [] };
  const opencode = await OpencodeFloor.prepare(repository);
  try {
    const running = await opencode.startServer();
    try {
      // "Already running": OpenCode has answered a prompt before, as a warm sandbox's could have.
      await running.prompt("echo floor warm-up");
      for (let run = 0; run < RUNS; run++) {
        const prompt = await running.prompt(`echo floor start ${run}`);
        floor.timings.push({ readyMs: 0, firstTokenMs: prompt.firstTokenAt - prompt.acceptedAt, source: "clone or snapshot" });
        context.say(`floor ${run + 1}/${RUNS}: first token ${ms(floor.timings.at(-1)!.firstTokenMs)} ms`);
      }
    } finally {
      await running.stop();
    }
    for (let run = 0; run < RUNS; run++) {
      const fresh = await opencode.startServer();
      try {
        const prompt = await fresh.prompt(`echo floor start ${run}`);
        starting.timings.push({
          readyMs: fresh.readyAt - fresh.startedAt,
          firstTokenMs: prompt.firstTokenAt - fresh.startedAt,
          source: "clone or snapshot",
        });
        context.say(
          `floor, OpenCode starting ${run + 1}/${RUNS}: first token ${ms(starting.timings.at(-1)!.firstTokenMs)} ms after the spawn`,
        );
      } finally {
        await fresh.stop();
      }
    }
  } finally {
    await opencode.close();
  }
  return [floor, starting];
}

async function measureColdAndSnapshot(
  context: BenchContext,
  { call, stack, cookie }: LookoutSession,
  path: string,
  poolAvailable: boolean,
): Promise<[Mode, Mode]> {
  const cold: Mode = {
    label: "cold",
    timings: [],
    target: { text: "first token p50 ≤ 4 s", met: (mode) => mode.tokenP50 <= 4_000 },
    notes: [],
  };
  const snapshot: Mode = {
    label: "from snapshot",
    timings: [],
    target: {
      text: "first token p50 ≤ 1.5× the floor with OpenCode starting",
      met: (mode, _floor, starting) => mode.tokenP50 <= 1.5 * starting.tokenP50,
    },
    notes: [],
  };
  const repositoryId = await registerRepository(call, path, "bench-cold");
  // A warm sandbox would make these starts warm ones.
  if (poolAvailable) await setPoolSize(call, repositoryId, 0);
  let withImage = 0;
  for (let run = 0; run < RUNS; run++) {
    if (await hasReadyImage(call, repositoryId)) withImage++;
    const { timing, client } = await timeNewSession(call, stack, cookie, repositoryId, `echo cold start ${run}`);
    cold.timings.push(timing);
    context.say(`cold ${run + 1}/${RUNS}: ready ${ms(timing.readyMs)} ms, first token ${ms(timing.firstTokenMs)} ms`);
    try {
      // Let the sandbox go idle, be snapshotted and stop; then the next prompt restores it.
      await client.waitForEvent((e) => e.payload.type === "prompt.finished", RUN_TIMEOUT_MS, "the cold prompt to finish");
      await client.waitForEvent(
        (e) => e.payload.type === "sandbox.status" && e.payload.status === "stopped",
        RUN_TIMEOUT_MS,
        "the idle sandbox to stop",
      );
      const seen = client.lastSeq();
      await call("POST", `/api/sessions/${client.sessionId}/prompts`, { requestId: `snapshot-${run}`, text: `echo warm start ${run}` });
      snapshot.timings.push(await timeStart(client, performance.now(), seen));
      context.say(
        `from snapshot ${run + 1}/${RUNS}: ready ${ms(snapshot.timings.at(-1)!.readyMs)} ms, first token ${ms(snapshot.timings.at(-1)!.firstTokenMs)} ms`,
      );
      await client.waitForEvent((e) => e.seq > seen && e.payload.type === "prompt.finished", RUN_TIMEOUT_MS, "the prompt to finish");
    } finally {
      client.close();
    }
  }
  if (withImage > 0) cold.notes.push(`${withImage} of ${RUNS} cold runs found a ready image of the repository (built by the schedule).`);
  cold.notes.push(`cold sandboxes, by the session's connecting step: ${sources(cold.timings)}.`);
  return [cold, snapshot];
}

async function measureWarm(context: BenchContext, { call, stack, cookie }: LookoutSession, path: string): Promise<Mode> {
  const warm: Mode = {
    label: "warm pool",
    timings: [],
    target: {
      text: "first token p50 ≤ floor + 300 ms, p95 ≤ floor + 1 s",
      met: (mode, floor) => mode.tokenP50 - floor.tokenP50 <= 300 && mode.tokenP95 - floor.tokenP95 <= 1_000,
    },
    notes: [],
  };
  const repositoryId = await registerRepository(call, path, "bench-warm");
  await setPoolSize(call, repositoryId, 1);
  let claimed = 0;
  for (let run = 0; run < RUNS; run++) {
    let before: number;
    try {
      before = await waitForWarm(call, repositoryId);
    } catch (error) {
      return skipped("warm pool", `${error instanceof Error ? error.message : String(error)} (run ${run + 1} of ${RUNS})`);
    }
    const { timing, client } = await timeNewSession(call, stack, cookie, repositoryId, `echo warm pool start ${run}`);
    try {
      warm.timings.push(timing);
      if ((await claimedFromPool(call, repositoryId)) > before) claimed++;
      context.say(`warm pool ${run + 1}/${RUNS}: ready ${ms(timing.readyMs)} ms, first token ${ms(timing.firstTokenMs)} ms`);
      await client.waitForEvent((e) => e.payload.type === "prompt.finished", RUN_TIMEOUT_MS, "the warm prompt to finish");
    } finally {
      client.close();
    }
  }
  warm.notes.push(`${claimed} of ${RUNS} warm-pool sessions claimed a warm sandbox (the pool's claimed count rose).`);
  warm.notes.push(`warm pool sandboxes, by the session's connecting step: ${sources(warm.timings)}.`);
  return warm;
}

async function measureFromImage(
  context: BenchContext,
  { call, stack, cookie }: LookoutSession,
  path: string,
  poolAvailable: boolean,
): Promise<Mode> {
  const repositoryId = await registerRepository(call, path, "bench-image");
  if (poolAvailable) await setPoolSize(call, repositoryId, 0);
  context.say("from image: building the repository's image");
  const built = await buildImage(call, repositoryId);
  if (!built.ready) return skipped("from image", built.reason);
  const image: Mode = {
    label: "from image",
    timings: [],
    target: { text: "first token p50 ≤ 4 s (the issue's cold: image present)", met: (mode) => mode.tokenP50 <= 4_000 },
    notes: [],
  };
  for (let run = 0; run < RUNS; run++) {
    const { timing, client } = await timeNewSession(call, stack, cookie, repositoryId, `echo image start ${run}`);
    try {
      image.timings.push(timing);
      context.say(`from image ${run + 1}/${RUNS}: ready ${ms(timing.readyMs)} ms, first token ${ms(timing.firstTokenMs)} ms`);
      await client.waitForEvent((e) => e.payload.type === "prompt.finished", RUN_TIMEOUT_MS, "the prompt to finish");
    } finally {
      client.close();
    }
  }
  image.notes.push(`from image sandboxes, by the session's connecting step: ${sources(image.timings)}.`);
  return image;
}

/** Each sandbox's own output (its bridge's log), which the gateway keeps in the sandbox's directory. */
function copySandboxLogs(from: string, to: string): void {
  if (!existsSync(from)) return;
  mkdirSync(to, { recursive: true });
  for (const id of readdirSync(from)) {
    const log = join(from, id, "log");
    if (existsSync(log)) copyFileSync(log, join(to, `${id}.log`));
  }
}

/** How many runs' sandboxes came from where, e.g. "9 image, 1 clone or snapshot". */
function sources(timings: readonly Timing[]): string {
  const counts = new Map<string, number>();
  for (const timing of timings) counts.set(timing.source, (counts.get(timing.source) ?? 0) + 1);
  return [...counts].map(([source, count]) => `${count} ${source}`).join(", ");
}

function summarize(timings: readonly Timing[]): Summary {
  const ready = Float64Array.from(timings.map((t) => t.readyMs)).sort();
  const token = Float64Array.from(timings.map((t) => t.firstTokenMs)).sort();
  return {
    readyP50: percentile(ready, 50),
    readyP95: percentile(ready, 95),
    tokenP50: percentile(token, 50),
    tokenP95: percentile(token, 95),
  };
}

function difference(value: number, floor: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(floor)) return "–";
  const delta = value - floor;
  return `${delta >= 0 ? "+" : "−"}${ms(Math.abs(delta))}`;
}

function table(modes: readonly Mode[]): Table {
  const [floorMode, startingMode] = modes;
  const floor = summarize(floorMode?.timings ?? []);
  const starting = summarize(startingMode?.timings ?? []);
  const rows = modes.map((mode) => {
    if (mode === floorMode) {
      const s = summarize(mode.timings);
      return [mode.label, String(mode.timings.length), "0", "0", ms(s.tokenP50), ms(s.tokenP95), "1.00×", "–", "–", "(the floor)", "–"];
    }
    if (mode.skipped) return [mode.label, "skipped", "–", "–", "–", "–", "–", "–", "–", mode.target?.text ?? "–", "–"];
    const s = summarize(mode.timings);
    return [
      mode.label,
      String(mode.timings.length),
      ms(s.readyP50),
      ms(s.readyP95),
      ms(s.tokenP50),
      ms(s.tokenP95),
      ratio(s.tokenP50, floor.tokenP50),
      difference(s.tokenP50, floor.tokenP50),
      difference(s.tokenP95, floor.tokenP95),
      mode.target?.text ?? "–",
      mode.target ? (mode.target.met(s, floor, starting) ? "met" : "not met") : "–",
    ];
  });
  return {
    title: "Prompt accepted → sandbox ready → first streamed token (ms), against the floor",
    columns: [
      "mode",
      "runs",
      "ready p50",
      "ready p95",
      "first token p50",
      "first token p95",
      "p50 / floor",
      "p50 − floor",
      "p95 − floor",
      "issue 13 target",
      "target",
    ],
    rows,
    notes: [
      ...modes.filter((mode) => mode.skipped).map((mode) => `${mode.label} was skipped: ${mode.skipped}.`),
      ...modes.flatMap((mode) => mode.notes),
      "Arrival times are taken when the client's socket delivers each event, so Lookout's include fan-out to one client.",
    ],
  };
}
