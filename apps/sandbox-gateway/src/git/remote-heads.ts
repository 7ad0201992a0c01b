import { spawn } from "node:child_process";
import { dirname } from "node:path";
import type { Logger } from "@lookout/sandbox";

/**
 * A remote repository's branch heads, read by the gateway itself with `git ls-remote` (the warm
 * pool's refresh and claims, ADR 0012). The gateway asks with the same read-only credential its
 * pool sandboxes clone with; the credential reaches git only through its environment (never argv,
 * never a log line), and the command runs with the gateway's hardened git environment.
 */

/** How long one `git ls-remote` may take before its process group is killed and the heads count as unknown. */
export const REMOTE_HEADS_TIMEOUT_MS = 10_000;
/** A read older than this is dropped from the cache (a repository no longer pooled). */
const FORGET_AFTER_MS = 60 * 60_000;
/** Largest `ls-remote` output read; a repository's branch list is far smaller. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** The most of git's error output kept for a log line. */
const MAX_REASON_CHARS = 300;
const HEAD_LINE = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\trefs\/heads\/(.+)$/;

/** A remote repository and the basic-auth credential to read it with. */
export interface RemoteSource {
  readonly url: string;
  /** Undefined when there is no usable credential; the remote is then not asked. */
  readonly credential: { readonly username: string; readonly password: string } | undefined;
}

/** Every branch head of a remote (branch name → commit), or why it could not be read. */
export type HeadsRead = { readonly heads: ReadonlyMap<string, string> } | { readonly failure: string };

/**
 * The argv and environment of `git ls-remote --heads` for `url` with `credential` as basic auth.
 * The authorization header is configured through `GIT_CONFIG_*` for that URL only (the empty
 * `http.extraHeader` first resets any other), so it shows in no process listing; no credential
 * helper, terminal prompt, user configuration or transport other than http(s) is used.
 */
export function lsRemoteCommand(
  url: string,
  credential: NonNullable<RemoteSource["credential"]>,
  gitHome: string,
): { args: string[]; env: NodeJS.ProcessEnv } {
  const basic = Buffer.from(`${credential.username}:${credential.password}`).toString("base64");
  const config: Array<[string, string]> = [
    ["http.extraHeader", ""],
    [`http.${url}.extraHeader`, `Authorization: Basic ${basic}`],
    ["credential.helper", ""],
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: gitHome,
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ALLOW_PROTOCOL: "http:https",
    // It runs in the empty git home: no repository (and so no repository configuration) is found above it.
    GIT_CEILING_DIRECTORIES: dirname(gitHome),
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  return { args: ["ls-remote", "--heads", "--", url], env };
}

/** Reads every branch head of `source` once, within `timeoutMs`. Never throws. */
export async function lsRemoteHeads(source: RemoteSource, options: { gitHome: string; timeoutMs: number }): Promise<HeadsRead> {
  const { credential } = source;
  if (!credential) return { failure: "There is no usable read-only credential for the repository." };
  let parsed: URL;
  try {
    parsed = new URL(source.url);
  } catch {
    return { failure: "The repository URL is not a URL." };
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return { failure: "Only http(s) repositories are read." };
  // A line break would end the header and start another one.
  if (/[\n\r\0]/.test(credential.username + credential.password)) return { failure: "The credential holds a control character." };
  const { args, env } = lsRemoteCommand(source.url, credential, options.gitHome);
  const run = await runGit(args, env, options.gitHome, options.timeoutMs);
  if (run.timedOut) return { failure: `git ls-remote did not finish within ${options.timeoutMs} ms.` };
  if (run.code !== 0) return { failure: `git ls-remote failed (exit ${run.code}): ${redact(run.stderr, credential).trim()}` };
  const heads = new Map<string, string>();
  for (const line of run.stdout.split("\n")) {
    const match = HEAD_LINE.exec(line);
    if (match?.[1] && match[2]) heads.set(match[2], match[1]);
  }
  return { heads };
}

interface Read {
  readonly startedAtMs: number;
  readonly result: Promise<HeadsRead>;
  settled: boolean;
}

/**
 * Remote branch heads for the warm pool: each read is shared by every caller that accepts its
 * age (so a reconcile pass, which accepts its interval, asks each remote at most once), and a
 * remote that cannot be read is logged when it becomes unreadable and when it is readable again,
 * not at every read.
 */
export class RemoteHeads {
  readonly #reads = new Map<string, Read>();
  readonly #unreadable = new Set<string>();
  readonly #now: () => number;

  constructor(private readonly options: { gitHome: string; logger: Logger; timeoutMs?: number; now?: () => number }) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * The remote's branch heads as read at most `maxAgeMs` ago (0: a read started now); undefined
   * when they could not be read, which is "unknown", never "no such branch".
   */
  async read(source: RemoteSource, maxAgeMs: number): Promise<ReadonlyMap<string, string> | undefined> {
    const now = this.#now();
    this.#forgetOld(now);
    let read = this.#reads.get(source.url);
    if (!read || now - read.startedAtMs >= maxAgeMs) {
      const started: Read = {
        startedAtMs: now,
        result: lsRemoteHeads(source, { gitHome: this.options.gitHome, timeoutMs: this.options.timeoutMs ?? REMOTE_HEADS_TIMEOUT_MS }),
        settled: false,
      };
      void started.result.then((result) => {
        started.settled = true;
        this.#note(source.url, result);
      });
      this.#reads.set(source.url, started);
      read = started;
    }
    const result = await read.result;
    return "heads" in result ? result.heads : undefined;
  }

  #note(url: string, result: HeadsRead): void {
    if ("failure" in result) {
      if (this.#unreadable.has(url)) return;
      this.#unreadable.add(url);
      this.options.logger.warn("remote branch heads could not be read; its warm sandboxes are kept as they are", {
        url,
        reason: result.failure,
      });
    } else if (this.#unreadable.delete(url)) {
      this.options.logger.info("remote branch heads can be read again", { url });
    }
  }

  #forgetOld(now: number): void {
    for (const [url, read] of this.#reads) if (read.settled && now - read.startedAtMs > FORGET_AFTER_MS) this.#reads.delete(url);
  }
}

/** Runs git in its own process group, so a timeout kills its transport helper with it. */
function runGit(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group already ended.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.length > MAX_OUTPUT_BYTES) kill();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_REASON_CHARS);
    });
    const finish = (code: number): void => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    };
    child.once("error", (error) => {
      stderr = error.message;
      finish(-1);
    });
    child.once("close", (code) => finish(code ?? -1));
  });
}

/** Git's messages never carry the header, but nothing of the credential may reach a log line. */
function redact(text: string, credential: NonNullable<RemoteSource["credential"]>): string {
  const basic = Buffer.from(`${credential.username}:${credential.password}`).toString("base64");
  return text.split(credential.password).join("[redacted]").split(basic).join("[redacted]");
}
