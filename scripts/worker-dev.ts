/**
 * Runs the control-plane Worker on wrangler's local dev server with no DevTools inspector.
 *
 * `wrangler dev` always opens two: its inspector proxy (127.0.0.1:9229 by default) and workerd's
 * own on a random port. Either answers `Runtime.evaluate`, so any process on the host that reaches
 * it reads the Worker's secrets; its flags only move them (`--inspector-port`, `--inspector-ip`),
 * never turn them off. Wrangler's API does (`dev.inspector: false`), so the start command and the
 * e2e stack run the Worker through this script instead of the CLI. Everything else matches
 * `wrangler dev`: the config's `.dev.vars`, local D1 and Durable Object state, reload on change.
 *
 * Usage: worker-dev --config <wrangler.toml> --ip <host> --port <port> --persist-to <dir> [--var KEY:VALUE]…
 */
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** How long disposing the Worker (stopping workerd) may take before the process exits anyway. */
const DISPOSE_TIMEOUT_MS = 10_000;

/** The part of wrangler's `unstable_startWorker` API this script uses. */
interface DevWorker {
  readonly ready: Promise<void>;
  readonly url: Promise<URL>;
  readonly inspectorUrl: Promise<URL | undefined>;
  dispose(): Promise<void>;
}
interface StartWorkerOptions {
  config: string;
  bindings: Record<string, { type: "plain_text"; value: string }>;
  dev: { server: { hostname: string; port: number }; inspector: false; persist: string };
}
type StartWorker = (options: StartWorkerOptions) => Promise<DevWorker>;

/** Wrangler is the control plane's dependency, so it is resolved from there. */
async function loadStartWorker(): Promise<StartWorker> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const require = createRequire(join(root, "apps", "control-plane", "package.json"));
  const wrangler: { unstable_startWorker?: unknown } = await import(pathToFileURL(require.resolve("wrangler")).href);
  const startWorker = wrangler.unstable_startWorker;
  if (typeof startWorker !== "function")
    throw new Error("this wrangler has no unstable_startWorker API; the Worker cannot start without an inspector");
  return (options) => (startWorker as StartWorker)(options);
}

function parseVars(entries: readonly string[]): StartWorkerOptions["bindings"] {
  const bindings: StartWorkerOptions["bindings"] = {};
  for (const entry of entries) {
    const colon = entry.indexOf(":");
    if (colon <= 0) throw new Error(`--var expects KEY:VALUE, got ${JSON.stringify(entry)}`);
    bindings[entry.slice(0, colon)] = { type: "plain_text", value: entry.slice(colon + 1) };
  }
  return bindings;
}

let worker: DevWorker | undefined;
let stopping = false;

/** Stops workerd before exiting, so no runtime outlives this process. */
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(code), DISPOSE_TIMEOUT_MS).unref();
  void (worker?.dispose() ?? Promise.resolve()).finally(() => process.exit(code));
}

async function main(): Promise<void> {
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  const { values } = parseArgs({
    options: {
      config: { type: "string" },
      ip: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      "persist-to": { type: "string" },
      var: { type: "string", multiple: true, default: [] },
    },
  });
  const port = Number(values.port);
  if (!values.config || !values["persist-to"] || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error("usage: worker-dev --config <wrangler.toml> --ip <host> --port <port> --persist-to <dir> [--var KEY:VALUE]…");
  }

  const startWorker = await loadStartWorker();
  worker = await startWorker({
    config: resolve(values.config),
    bindings: parseVars(values.var),
    dev: { server: { hostname: values.ip, port }, inspector: false, persist: resolve(values["persist-to"]) },
  });
  await worker.ready;
  const inspector = await worker.inspectorUrl;
  if (inspector) {
    process.stderr.write(`worker-dev: wrangler opened an inspector at ${inspector.href} although it was asked not to; stopping\n`);
    stop(1);
    return;
  }
  process.stdout.write(`worker-dev: ready on ${(await worker.url).href} (no inspector)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`worker-dev: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  stop(1);
});
