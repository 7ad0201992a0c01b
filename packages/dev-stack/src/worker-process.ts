/**
 * The process `startWorker` runs: a Worker on wrangler's local dev server with no DevTools inspector.
 *
 * `wrangler dev` always opens two inspectors: its proxy (127.0.0.1:9229 by default) and workerd's
 * own on a random port. Either answers `Runtime.evaluate`, so any process on the host that reaches
 * one reads the Worker's secrets; the CLI's flags only move them (`--inspector-port`,
 * `--inspector-ip`), never turn them off. Wrangler's API does (`dev.inspector: false`), so the
 * Worker runs through it, and this process refuses to serve if an inspector opens anyway.
 *
 * It reads its options (`ChildOptions`) as one JSON line on stdin and keeps stdin open: when the
 * parent closes it, or dies, the Worker is disposed and the process exits, so no workerd outlives
 * the program that started it. SIGTERM and SIGINT do the same.
 */
import { createInterface } from "node:readline";
import { ChildOptions, READY_MARKER } from "./child-protocol.ts";

/** How long disposing the Worker (stopping workerd) may take before the process exits anyway. */
const DISPOSE_TIMEOUT_MS = 10_000;

/** The part of wrangler's `unstable_startWorker` API used here. */
interface DevWorker {
  readonly ready: Promise<void>;
  readonly url: Promise<URL>;
  readonly inspectorUrl: Promise<URL | undefined>;
  dispose(): Promise<void>;
}
interface StartWorkerInput {
  config: string;
  bindings: ChildOptions["bindings"];
  dev: {
    server: { hostname: string; port: number };
    inspector: false;
    persist: string;
    watch: boolean;
  };
}
type StartWorker = (input: StartWorkerInput) => Promise<DevWorker>;

async function loadStartWorker(): Promise<StartWorker> {
  const wrangler: { unstable_startWorker?: unknown } = await import("wrangler");
  const startWorker = wrangler.unstable_startWorker;
  if (typeof startWorker !== "function")
    throw new Error("this wrangler has no unstable_startWorker API; the Worker cannot start without an inspector");
  return (input) => (startWorker as StartWorker)(input);
}

let worker: DevWorker | undefined;
let stopping = false;

/** Stops workerd before exiting. */
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(code), DISPOSE_TIMEOUT_MS).unref();
  void (worker?.dispose() ?? Promise.resolve()).finally(() => process.exit(code));
}

/** The first line on stdin; afterwards the end of stdin means "stop". */
function readOptions(): Promise<ChildOptions> {
  const lines = createInterface({ input: process.stdin });
  return new Promise((resolve, reject) => {
    let first = true;
    lines.on("line", (line) => {
      if (!first) return;
      first = false;
      try {
        resolve(ChildOptions.parse(JSON.parse(line)));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    lines.on("close", () => {
      if (first) reject(new Error("stdin closed before the options arrived"));
      else stop(0);
    });
  });
}

async function main(): Promise<void> {
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  const options = await readOptions();
  const startWorker = await loadStartWorker();
  if (stopping) return;
  worker = await startWorker({
    config: options.config,
    bindings: options.bindings,
    dev: {
      server: { hostname: options.host, port: options.port },
      inspector: false,
      persist: options.persistTo,
      watch: options.watch,
    },
  });
  await worker.ready;
  const inspector = await worker.inspectorUrl;
  if (inspector) {
    process.stderr.write(`wrangler opened an inspector at ${inspector.href} although it was asked not to; stopping\n`);
    stop(1);
    return;
  }
  process.stdout.write(`${READY_MARKER}${(await worker.url).href} (no inspector)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  stop(1);
});
