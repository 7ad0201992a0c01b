import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LookoutError } from "@lookout/protocol";
import { type ChildOptions, READY_MARKER } from "./child-protocol.ts";
import { OutputLog } from "./output.ts";
import { LOCAL_HOST } from "./ports.ts";
import { killGroup, signal } from "./process-group.ts";
import { applyD1Migrations, QUIET_ENV } from "./wrangler-cli.ts";

/** A first start compiles the Worker and boots workerd; a cold machine needs a while. */
const STARTUP_TIMEOUT_MS = 120_000;
/** How long a stopped Worker gets to dispose workerd and exit before its process group is killed. */
const STOP_GRACE_MS = 12_000;
/** How often the readiness probe asks. */
const PROBE_INTERVAL_MS = 200;
/** What wrangler accepts as a binding name. */
const BINDING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The child's entry and the loader that runs it from TypeScript source. */
const WORKER_PROCESS = fileURLToPath(new URL("./worker-process.ts", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface WorkerOptions {
  /** A label for log lines and errors. */
  name: string;
  /** The wrangler config; a `.dev.vars` next to it is read too, under `vars` and `secrets`. */
  config: string;
  /** The directory of the local D1 and Durable Object state. */
  persistTo: string;
  /** Defaults to `LOCAL_HOST`. */
  host?: string;
  /** Choose it first (`freePort`) when the Worker must know its own URL. */
  port: number;
  /** Plain-text variables, over the config's `[vars]`. */
  vars?: Readonly<Record<string, string>>;
  /** Secrets: handed to the Worker's process on a pipe, never in its arguments, environment or a file. */
  secrets?: Readonly<Record<string, string>>;
  /** D1 bindings whose migrations are applied to the local state before the Worker starts. */
  migrateD1?: readonly string[];
  /** A path that answers 2xx once the Worker serves, e.g. `/api/health`. */
  readyPath: string;
  readyTimeoutMs?: number;
  /** Every line the migrations and the Worker print is written here (created afresh, mode 0600). */
  logFile?: string;
  /** Called with every line the migrations and the Worker print. */
  onLine?: (line: string) => void;
  /**
   * Rebuild and reload when a source changes: on for the start command, where someone edits the
   * code; off for tests and benchmarks, which must run one version of it throughout.
   */
  watch?: boolean;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A Worker serving on wrangler's local dev server, in a process of its own. */
export interface RunningWorker {
  readonly name: string;
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
  /** The Worker's process, which leads a process group holding workerd. */
  readonly pid: number;
  readonly logFile: string | undefined;
  /** Settles when the process exits, whether by itself or through `stop`. */
  readonly exited: Promise<WorkerExit>;
  /** The last lines of output, for error messages. */
  tail(lines?: number): string;
  /** Stops the process by its PID (SIGTERM, then its whole group SIGKILL after a grace period). */
  stop(): Promise<void>;
}

/**
 * Applies the local D1 migrations, then starts the Worker with no DevTools inspector and waits until
 * `readyPath` answers. Options are checked before anything runs: a bad one throws a
 * `VALIDATION_FAILED` error and starts nothing. If the Worker does not come up, its process is
 * stopped and the error carries the last lines it printed.
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const childOptions = checkOptions(options);
  const log = new OutputLog(options.logFile, options.onLine);
  try {
    for (const binding of options.migrateD1 ?? []) {
      await applyD1Migrations({
        config: childOptions.config,
        persistTo: childOptions.persistTo,
        binding,
        onLine: (line) => log.line(line),
      });
    }
  } catch (error) {
    await log.close();
    throw error;
  }
  const child = spawn(process.execPath, ["--import", TSX_LOADER, WORKER_PROCESS], {
    cwd: dirname(childOptions.config),
    env: { ...process.env, ...QUIET_ENV },
    stdio: ["pipe", "pipe", "pipe"],
    // Its own process group, so that stopping it can take workerd along even if it dies first.
    detached: true,
  });
  const worker = new LocalWorker(options.name, `http://${childOptions.host}:${childOptions.port}`, child, log, options.logFile);
  // Kept open: the child disposes the Worker and exits when this pipe closes.
  child.stdin.write(`${JSON.stringify(childOptions)}\n`);
  try {
    await worker.waitUntilReady(options.readyPath, options.readyTimeoutMs ?? STARTUP_TIMEOUT_MS);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
}

function checkOptions(options: WorkerOptions): ChildOptions {
  const refuse = (problem: string): never => {
    throw new LookoutError("VALIDATION_FAILED", `cannot start the Worker ${JSON.stringify(options.name)}: ${problem}`);
  };
  if (!options.name.trim()) refuse("it needs a name");
  const config = resolve(options.config);
  if (!statSync(config, { throwIfNoEntry: false })?.isFile()) refuse(`no config file at ${config}`);
  if (!options.persistTo.trim()) refuse("persistTo is empty");
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) refuse(`port ${options.port} is not 1–65535`);
  if (!options.readyPath.startsWith("/")) refuse(`readyPath ${JSON.stringify(options.readyPath)} does not start with /`);
  if (options.readyTimeoutMs !== undefined && !(options.readyTimeoutMs > 0)) refuse("readyTimeoutMs must be positive");
  const bindings: ChildOptions["bindings"] = {};
  for (const [kind, entries] of [
    ["plain_text", options.vars ?? {}],
    ["secret_text", options.secrets ?? {}],
  ] as const) {
    for (const [name, value] of Object.entries(entries)) {
      if (!BINDING_NAME.test(name)) refuse(`${JSON.stringify(name)} is not a binding name`);
      if (bindings[name]) refuse(`${name} is both a variable and a secret`);
      bindings[name] = { type: kind, value };
    }
  }
  for (const binding of options.migrateD1 ?? [])
    if (!BINDING_NAME.test(binding)) refuse(`${JSON.stringify(binding)} is not a D1 binding name`);
  return {
    config,
    persistTo: resolve(options.persistTo),
    host: options.host ?? LOCAL_HOST,
    port: options.port,
    bindings,
    watch: options.watch ?? false,
  };
}

class LocalWorker implements RunningWorker {
  readonly exited: Promise<WorkerExit>;
  private announced = false;
  private stopped: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly log: OutputLog,
    readonly logFile: string | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (error) => {
        log.line(`${name}: ${error.message}`);
        resolve({ code: null, signal: null });
      });
    });
    // A child that died before reading its options must not crash this process with EPIPE.
    child.stdin.on("error", () => {});
    const watchForReady = (line: string) => {
      this.announced ||= line.startsWith(READY_MARKER);
    };
    log.follow(child.stdout, watchForReady);
    log.follow(child.stderr);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  private get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  tail(lines?: number): string {
    return this.log.tail(lines);
  }

  /** Waits for the child's ready line, then for `readyPath` to answer 2xx; fails fast if the child exits. */
  async waitUntilReady(readyPath: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const probe = `${this.url}${readyPath}`;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited before it served ${probe}:\n${this.tail()}`);
      if (this.announced && (await answersOk(probe))) return;
      await Promise.race([this.exited, pause(PROBE_INTERVAL_MS)]);
    }
    throw new Error(`${this.name} did not serve ${probe} within ${timeoutMs / 1000}s:\n${this.tail()}`);
  }

  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    this.child.stdin.end();
    const pid = this.child.pid;
    if (pid !== undefined) {
      if (this.running) signal(pid, "SIGTERM");
      const timer = setTimeout(() => signal(-pid, "SIGKILL"), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
      // Whatever of its group outlived it (workerd if disposing failed, wrangler's esbuild service) goes with it.
      await killGroup(pid);
    }
    await this.log.close();
  }
}

async function answersOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false; // Not listening yet.
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
