import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { copyWranglerConfig, freePort, type RunningWorker, startWorker } from "@lookout/dev-stack";
import { sentryHeaders, sentryIssuePayload } from "@lookout/e2e";
import { Automation, ListRunsResponse, type AutomationRun, WebhookKeyResponse } from "@lookout/protocol";
import { z } from "zod";
import type { Benchmark, BenchContext } from "./lib/context.ts";
import type { LookoutApi } from "./lib/lookout.ts";
import { BENCH_ROOT } from "./lib/paths.ts";
import { median, percentile } from "./lib/stats.ts";
import { count, ms, ratio, type Table } from "./lib/table.ts";

/** Deliveries sent at once in each round; the issue asks for 200. */
const CONCURRENCY = Number(process.env.LOOKOUT_BENCH_WEBHOOK_CONCURRENCY ?? 200);
/** Measured rounds per target and endpoint; targets alternate within each round. */
const ROUNDS = Number(process.env.LOOKOUT_BENCH_WEBHOOK_ROUNDS ?? 5);
/** One unmeasured round of this many per target first (connections, isolates, SQLite pages). */
const WARMUP = 50;
/** How long Lookout may take to finish a round's work after acknowledging it. */
const DRAIN_TIMEOUT_MS = 180_000;
const DRAIN_POLL_MS = 200;
/** The targets the issue sets: p99 within 1.5× the floor's, and under 50 ms. */
const TARGET_RATIO = 1.5;
const TARGET_P99_MS = 50;

type Endpoint = "sentry" | "webhook";
/** `Lookout, paused`: the same endpoint for a paused automation — verified, refused and recorded, with no run after it. */
type TargetName = "Lookout" | "Lookout, paused" | "floor";
const TARGETS: readonly TargetName[] = ["Lookout", "Lookout, paused", "floor"];

interface Delivery {
  url: string;
  headers: Record<string, string>;
  body: string;
}

interface Sample {
  latencyMs: number;
  status: number;
}

/**
 * Webhook acknowledgement latency: how long a sender waits for Lookout's answer when a storm of
 * deliveries arrives at once, next to a Worker that only verifies the sender and answers.
 */
export const webhookAck: Benchmark = {
  name: "webhook-ack",
  title: "Webhook acknowledgement latency",
  method:
    `${CONCURRENCY} deliveries are sent at once (one \`fetch\` each from the benchmark process, bodies signed before the clock starts) and each is timed from the request to the end of its answer. ` +
    "Lookout: the real control plane under `wrangler dev` (fake sandbox gateway), on `POST /api/triggers/sentry/:id` (a signed `issue` payload, a new issue per delivery) and `POST /api/triggers/webhooks/:id` (the automation's key, a small JSON payload, no conditions). " +
    "Before answering, Lookout reads the automation, verifies the sender, and records the delivery in D1; the run (triage, caps, a session while the caps allow) follows under `waitUntil`. " +
    "Lookout, paused: the same requests to a paused automation, which Lookout verifies, refuses (409) and records as refused, with nothing after the answer: the acknowledgement path without the background work. " +
    "Floor: `bench/baseline/webhook-floor.ts`, a Worker on its own `wrangler dev` that verifies the same signature or key the same way and answers 202 with no storage. " +
    `One warm-up round of ${WARMUP} per target, then ${ROUNDS} rounds per endpoint, the targets taking turns to go first; after each Lookout round the benchmark waits until every delivery has its run, so background work never overlaps the next round.`,
  async run(context) {
    const lookout = await context.lookout();
    const clientSecret = randomBytes(32).toString("base64url");
    const automations = await setUpAutomations(lookout.api, lookout.repositoryId, clientSecret);
    const floor = await startFloor(context, clientSecret, automations.webhook.key);
    try {
      const targets: Record<Endpoint, Record<TargetName, (index: number) => Delivery>> = {
        sentry: {
          Lookout: (index) =>
            sentryDelivery(`${lookout.api.baseUrl}/api/triggers/sentry/${automations.sentry.active}`, clientSecret, index),
          "Lookout, paused": (index) =>
            sentryDelivery(`${lookout.api.baseUrl}/api/triggers/sentry/${automations.sentry.paused}`, clientSecret, index),
          floor: (index) => sentryDelivery(`${floor.url}/sentry`, clientSecret, index),
        },
        webhook: {
          Lookout: (index) =>
            webhookDelivery(`${lookout.api.baseUrl}/api/triggers/webhooks/${automations.webhook.active}`, automations.webhook.key, index),
          "Lookout, paused": (index) =>
            webhookDelivery(
              `${lookout.api.baseUrl}/api/triggers/webhooks/${automations.webhook.paused}`,
              automations.webhook.pausedKey,
              index,
            ),
          floor: (index) => webhookDelivery(`${floor.url}/webhook`, automations.webhook.key, index),
        },
      };
      const automationOf: Record<Endpoint, string> = { sentry: automations.sentry.active, webhook: automations.webhook.active };
      const expectedStatus: Record<TargetName, number> = { Lookout: 202, "Lookout, paused": 409, floor: 202 };
      const samples = new Map<string, Measured>();
      const outcomes = new Map<string, number>();
      let sequence = 0;

      const round = async (endpoint: Endpoint, target: TargetName, size: number, measured: boolean) => {
        const deliveries = Array.from({ length: size }, () => targets[endpoint][target](sequence++));
        const since = Date.now();
        const results = await sendAll(deliveries);
        if (target === "Lookout") {
          for (const run of await drained(lookout.api, automationOf[endpoint], since, results.filter((r) => r.status === 202).length)) {
            if (measured) outcomes.set(`${endpoint} ${run.status}`, (outcomes.get(`${endpoint} ${run.status}`) ?? 0) + 1);
          }
        }
        if (!measured) return;
        const key = `${endpoint} ${target}`;
        const entry = samples.get(key) ?? { all: [], roundP99: [], expected: expectedStatus[target] };
        entry.all.push(...results);
        entry.roundP99.push(percentile(sortedLatencies(results), 99));
        samples.set(key, entry);
        context.say(`${key} round: p50 ${ms(percentile(sortedLatencies(results), 50))} ms, p99 ${ms(entry.roundP99.at(-1)!)} ms`);
      };

      for (const endpoint of ["sentry", "webhook"] as const) {
        context.say(`warming up ${endpoint}`);
        for (const target of TARGETS) await round(endpoint, target, WARMUP, false);
        for (let r = 0; r < ROUNDS; r++) {
          const order = TARGETS.map((_, i) => TARGETS[(i + r) % TARGETS.length]!);
          for (const target of order) await round(endpoint, target, CONCURRENCY, true);
        }
      }
      return [latencyTable(samples), ratioTable(samples), outcomeTable(outcomes)];
    } finally {
      await floor.stop();
    }
  },
};

interface BenchAutomations {
  sentry: { active: string; paused: string };
  webhook: { active: string; paused: string; key: string; pausedKey: string };
}

/** An active and a paused automation per endpoint; the Sentry ones share the client secret. */
async function setUpAutomations(api: LookoutApi, repositoryId: string, clientSecret: string): Promise<BenchAutomations> {
  const created = z.object({ automation: Automation });
  const automation = async (name: string, kind: Endpoint, enabled: boolean) => {
    // The most concurrent runs an automation allows, so a storm reaches the global caps.
    const body = { name, instructions: "echo benchmark delivery", repositoryId, trigger: { kind }, maxConcurrentRuns: 10, enabled };
    return (await api.call("POST", "/api/automations", body, created)).automation.id;
  };
  const sentry = async (enabled: boolean) => {
    const id = await automation(`Benchmark: Sentry${enabled ? "" : " (paused)"}`, "sentry", enabled);
    await api.call("PUT", `/api/triggers/sentry/${id}/settings`, { clientSecret }, z.unknown());
    return id;
  };
  const webhook = async (enabled: boolean) => {
    const id = await automation(`Benchmark: webhook${enabled ? "" : " (paused)"}`, "webhook", enabled);
    return { id, key: (await api.call("POST", `/api/triggers/webhooks/${id}/key`, undefined, WebhookKeyResponse)).key };
  };
  const [active, paused] = [await webhook(true), await webhook(false)];
  return {
    sentry: { active: await sentry(true), paused: await sentry(false) },
    webhook: { active: active.id, paused: paused.id, key: active.key, pausedKey: paused.key },
  };
}

/** The floor Worker on its own `wrangler dev`, holding the same client secret and the key's hash. */
async function startFloor(context: BenchContext, clientSecret: string, webhookKey: string): Promise<RunningWorker> {
  const workDir = join(context.workDir, "webhook-floor");
  mkdirSync(workDir, { recursive: true });
  context.say("starting the webhook floor Worker (wrangler's dev server)");
  return startWorker({
    name: "webhook floor",
    config: copyWranglerConfig(join(BENCH_ROOT, "baseline", "webhook-floor.toml"), workDir),
    persistTo: join(workDir, "state"),
    port: await freePort(),
    secrets: { SENTRY_CLIENT_SECRET: clientSecret, WEBHOOK_KEY_SHA256: createHash("sha256").update(webhookKey).digest("hex") },
    readyPath: "/health",
    logFile: join(workDir, "wrangler.log"),
  });
}

function sentryDelivery(url: string, clientSecret: string, index: number): Delivery {
  const body = JSON.stringify(sentryIssuePayload(String(900_000_000 + index)));
  return { url, headers: sentryHeaders(clientSecret, body, "issue"), body };
}

function webhookDelivery(url: string, key: string, index: number): Delivery {
  const body = JSON.stringify({ action: "opened", ticket: { id: index, title: `Benchmark ticket ${index}` } });
  return { url, headers: { "content-type": "application/json", "x-lookout-webhook-key": key }, body };
}

/** Sends every delivery at once; each is timed from its request to the end of its answer. */
async function sendAll(deliveries: readonly Delivery[]): Promise<Sample[]> {
  return Promise.all(
    deliveries.map(async (delivery) => {
      const started = performance.now();
      const response = await fetch(delivery.url, { method: "POST", headers: delivery.headers, body: delivery.body });
      await response.arrayBuffer();
      return { latencyMs: performance.now() - started, status: response.status };
    }),
  );
}

/**
 * Waits until the automation has a run for each of `expected` deliveries acknowledged since
 * `since` (every verified delivery gets one: started, skipped by a cap, or a follow-up), and
 * returns those runs.
 */
async function drained(api: LookoutApi, automationId: string, since: number, expected: number): Promise<AutomationRun[]> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const runs = await runsSince(api, automationId, since);
    if (runs.length >= expected) return runs;
    if (Date.now() > deadline)
      throw new Error(`only ${runs.length} of ${expected} deliveries got a run within ${DRAIN_TIMEOUT_MS / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
}

/** The automation's runs created at or after `since`, newest first, across pages. */
async function runsSince(api: LookoutApi, automationId: string, since: number): Promise<AutomationRun[]> {
  const runs: AutomationRun[] = [];
  let before: string | null = null;
  for (;;) {
    const page: z.infer<typeof ListRunsResponse> = await api.call(
      "GET",
      `/api/automations/${automationId}/runs?limit=100${before ? `&before=${before}` : ""}`,
      undefined,
      ListRunsResponse,
    );
    const recent = page.runs.filter((run) => run.createdAt >= since);
    runs.push(...recent);
    if (recent.length < page.runs.length || page.nextBefore === null) return runs;
    before = page.nextBefore;
  }
}

function sortedLatencies(samples: readonly Sample[]): Float64Array {
  return Float64Array.from(samples.map((s) => s.latencyMs)).sort();
}

interface Measured {
  all: Sample[];
  roundP99: number[];
  /** The status this target answers a good delivery with. */
  expected: number;
}

function latencyTable(samples: Map<string, Measured>): Table {
  return {
    title: `Acknowledgement latency, ${count(CONCURRENCY)} deliveries at once (ms, all measured rounds together)`,
    columns: ["endpoint / target", "deliveries", "unexpected status", "p50", "p90", "p99", "max", "median round p99"],
    rows: [...samples].map(([key, entry]) => {
      const sorted = sortedLatencies(entry.all);
      return [
        key,
        count(entry.all.length),
        count(entry.all.filter((s) => s.status !== entry.expected).length),
        ms(percentile(sorted, 50)),
        ms(percentile(sorted, 90)),
        ms(percentile(sorted, 99)),
        ms(sorted.at(-1) ?? Number.NaN),
        ms(median(entry.roundP99)),
      ];
    }),
  };
}

function ratioTable(samples: Map<string, Measured>): Table {
  const rows = (["sentry", "webhook"] as const).flatMap((endpoint) => {
    const floor = samples.get(`${endpoint} floor`);
    if (!floor) return [];
    const f = sortedLatencies(floor.all);
    const fp99 = percentile(f, 99);
    return (["Lookout", "Lookout, paused"] as const).flatMap((target) => {
      const measured = samples.get(`${endpoint} ${target}`);
      if (!measured) return [];
      const l = sortedLatencies(measured.all);
      const lp99 = percentile(l, 99);
      return [
        [
          `${endpoint} ${target}`,
          ratio(percentile(l, 50), percentile(f, 50)),
          ratio(lp99, fp99),
          lp99 <= TARGET_RATIO * fp99 ? "met" : "not met",
          lp99 < TARGET_P99_MS ? "met" : "not met",
        ],
      ];
    });
  });
  return {
    title: "Lookout / floor (same endpoint, same run)",
    columns: ["endpoint / target", "p50", "p99", `p99 ≤ ${TARGET_RATIO}× floor`, `p99 < ${TARGET_P99_MS} ms`],
    rows,
  };
}

function outcomeTable(outcomes: Map<string, number>): Table {
  return {
    title: "What Lookout did after acknowledging the measured deliveries (runs by status)",
    columns: ["endpoint / run status", "runs"],
    rows: [...outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => [key, count(value)]),
    notes: [
      "Sessions start until the triggers' caps (new sessions per hour, running sandboxes) are reached; later deliveries are recorded as skipped runs.",
    ],
  };
}
