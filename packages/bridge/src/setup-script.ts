import { spawn } from "node:child_process";
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import type { AgentUser } from "./isolation";
import { errorMessage } from "./logger";

/** Where a repository keeps its setup script, relative to the work tree. */
export const SETUP_SCRIPT_PATH = ".lookout/setup.sh";
/** How long a setup script may run before its process group is killed. */
export const DEFAULT_SETUP_TIMEOUT_MS = 10 * 60_000;
/** How much of the script's output (stdout and stderr interleaved) is kept: the tail. */
export const DEFAULT_SETUP_OUTPUT_CHARS = 16_000;
/** Time the script's processes get to exit on SIGTERM, after the time limit, before SIGKILL. */
const KILL_GRACE_MS = 2_000;

export interface SetupScriptOptions {
  /** The work tree the script runs in (its working directory). */
  workdir: string;
  /** The script, relative to `workdir`. */
  scriptPath?: string;
  timeoutMs?: number;
  /** At most this many characters of output are kept (the last ones). */
  maxOutputChars?: number;
  /**
   * The environment the script inherits; every `LOOKOUT_` variable is removed (the script is the
   * repository's code, as untrusted as the agent).
   */
  env?: NodeJS.ProcessEnv;
  /** Runs the script as this user (`separate-user` isolation). Undefined: the bridge's own user. */
  runAs?: AgentUser;
  /** The bash to run it with. */
  bash?: string;
}

/** What running the setup script came to; `output` is the kept tail, `truncated` whether more was cut. */
export type SetupScriptResult =
  | { status: "absent"; scriptPath: string }
  | { status: "succeeded"; scriptPath: string; durationMs: number; output: string; truncated: boolean }
  | {
      status: "failed";
      scriptPath: string;
      durationMs: number;
      output: string;
      truncated: boolean;
      /** The exit code, or null when a signal ended it. */
      exitCode: number | null;
      signal: NodeJS.Signals | null;
    }
  | { status: "timed-out"; scriptPath: string; durationMs: number; output: string; truncated: boolean; timeoutMs: number };

/** A one-line account of a result, for logs and for the pool state's message. */
export function describeSetupResult(result: SetupScriptResult): string {
  switch (result.status) {
    case "absent":
      return `no ${result.scriptPath} in the repository`;
    case "succeeded":
      return `${result.scriptPath} succeeded in ${result.durationMs} ms`;
    case "failed":
      return result.exitCode === null
        ? `${result.scriptPath} was ended by ${result.signal ?? "a signal"} after ${result.durationMs} ms`
        : `${result.scriptPath} exited with code ${result.exitCode} after ${result.durationMs} ms`;
    case "timed-out":
      return `${result.scriptPath} did not finish within ${result.timeoutMs} ms and was killed`;
  }
}

/**
 * Runs the repository's setup script (`.lookout/setup.sh`) with bash in the work tree, as the
 * agent's user when one is given, in its own process group so that the time limit ends
 * everything it started. A missing script is `absent`, not a failure; a path that is not a
 * regular file (a directory, a link) is `failed` with a message, never followed. Never throws
 * for the script's own behaviour; only a bash that cannot be started at all is a failed result too.
 */
export async function runSetupScript(options: SetupScriptOptions): Promise<SetupScriptResult> {
  const scriptPath = options.scriptPath ?? SETUP_SCRIPT_PATH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SETUP_TIMEOUT_MS;
  const maxOutputChars = options.maxOutputChars ?? DEFAULT_SETUP_OUTPUT_CHARS;
  const fullPath = join(options.workdir, scriptPath);
  const kind = await lstat(fullPath).then(
    (stats) => (stats.isFile() ? "file" : stats.isSymbolicLink() ? "a symbolic link" : "not a regular file"),
    () => "absent" as const,
  );
  if (kind === "absent") return { status: "absent", scriptPath };
  const started = Date.now();
  if (kind !== "file") {
    return {
      status: "failed",
      scriptPath,
      durationMs: 0,
      output: `${scriptPath} is ${kind}; the setup script must be a regular file in the repository.`,
      truncated: false,
      exitCode: null,
      signal: null,
    };
  }
  const inherited = Object.fromEntries(Object.entries(options.env ?? process.env).filter(([key]) => !key.startsWith("LOOKOUT_")));
  const output = new BoundedTail(maxOutputChars);
  const child = spawn(options.bash ?? "bash", [scriptPath], {
    cwd: options.workdir,
    env: inherited,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  });
  child.stdout.on("data", (chunk: Buffer) => output.add(chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => output.add(chunk.toString("utf8")));
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const limitTimer = setTimeout(() => {
    timedOut = true;
    signalGroup("SIGTERM");
    killTimer = setTimeout(() => signalGroup("SIGKILL"), KILL_GRACE_MS);
  }, timeoutMs);
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: unknown }>((resolve) => {
    child.once("error", (error) => resolve({ error }));
    // `close`, not `exit`: every byte of output the script wrote has been read by then.
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(limitTimer);
  // Whatever the script left running in its group does not outlive the setup.
  signalGroup("SIGKILL");
  if (killTimer) clearTimeout(killTimer);
  const durationMs = Date.now() - started;
  const kept = { output: output.text(), truncated: output.truncated };
  if ("error" in ended) {
    return {
      status: "failed",
      scriptPath,
      durationMs,
      output: `${kept.output}${kept.output ? "\n" : ""}bash could not be started: ${errorMessage(ended.error)}`,
      truncated: kept.truncated,
      exitCode: null,
      signal: null,
    };
  }
  if (timedOut) return { status: "timed-out", scriptPath, durationMs, timeoutMs, ...kept };
  if (ended.code === 0) return { status: "succeeded", scriptPath, durationMs, ...kept };
  return { status: "failed", scriptPath, durationMs, exitCode: ended.code, signal: ended.signal, ...kept };
}

/** The last `max` characters of a stream of text, and whether anything before them was dropped. */
class BoundedTail {
  #text = "";
  #truncated = false;

  constructor(private readonly max: number) {}

  add(chunk: string): void {
    this.#text += chunk;
    if (this.#text.length > this.max) {
      this.#text = this.#text.slice(-this.max);
      this.#truncated = true;
    }
  }

  text(): string {
    return this.#text;
  }

  get truncated(): boolean {
    return this.#truncated;
  }
}
