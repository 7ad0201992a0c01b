import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { Config } from "@opencode-ai/sdk/v2/client";
import { z } from "zod";
import { givePaths, type AgentUser } from "./isolation";
import { errorMessage, type Logger } from "./logger";

/** OpenCode's basic-auth user name (its default). */
export const OPENCODE_USERNAME = "opencode";
/** How often the health endpoint is polled while OpenCode starts. */
const HEALTH_POLL_MS = 50;
/** How many free ports to try if another process takes the chosen one first. */
const PORT_ATTEMPTS = 3;
/** Time OpenCode gets to exit on SIGTERM before it is killed. */
const STOP_GRACE_MS = 3_000;
/** Output kept from OpenCode's stdout/stderr for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;

const Health = z.object({ healthy: z.literal(true), version: z.string() });

export interface OpencodeServerOptions {
  bin: string;
  cwd: string;
  /** A private home: HOME and every XDG directory point inside it. */
  home: string;
  config: Config;
  /** Identity for commits the agent makes itself with `git commit` in its bash tool. */
  gitIdentity: { name: string; email: string };
  startTimeoutMs: number;
  logger: Logger;
  /** The environment OpenCode inherits (the bridge's own `LOOKOUT_*` secrets are removed). */
  baseEnv?: NodeJS.ProcessEnv;
  /**
   * Runs OpenCode, and so every tool of the agent, as this user (`separate-user` isolation); its
   * home directories are given to it first. Undefined: the bridge's own user.
   */
  runAs?: AgentUser;
}

export interface OpencodeServer {
  url: string;
  version: string;
  /** `Authorization` header value for the SDK client. */
  authorization: string;
  /** Resolves when the process exits, with its exit code (null if killed by a signal). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts `opencode serve` on a free loopback port and waits until its health endpoint answers. */
export async function startOpencodeServer(options: OpencodeServerOptions): Promise<OpencodeServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      lastError = error;
      options.logger.warn("opencode failed to start", { attempt, error: errorMessage(error) });
    }
  }
  throw new Error(`OpenCode did not start: ${errorMessage(lastError)}`);
}

/** The environment OpenCode runs with: isolated home, generated config, no Lookout secrets. */
export function opencodeEnv(
  options: Pick<OpencodeServerOptions, "home" | "config" | "gitIdentity" | "baseEnv">,
  password: string,
): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(options.baseEnv ?? process.env).filter(([key]) => !key.startsWith("LOOKOUT_")));
  return {
    ...inherited,
    HOME: options.home,
    XDG_CONFIG_HOME: join(options.home, ".config"),
    XDG_DATA_HOME: join(options.home, ".local", "share"),
    XDG_CACHE_HOME: join(options.home, ".cache"),
    XDG_STATE_HOME: join(options.home, ".local", "state"),
    OPENCODE_CONFIG_CONTENT: JSON.stringify(options.config),
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
    // Nothing of Lookout reads OpenCode's file-watcher events; its watcher costs every start ~0.1 s.
    OPENCODE_EXPERIMENTAL_DISABLE_FILEWATCHER: "1",
    OPENCODE_SERVER_USERNAME: OPENCODE_USERNAME,
    OPENCODE_SERVER_PASSWORD: password,
    GIT_AUTHOR_NAME: options.gitIdentity.name,
    GIT_AUTHOR_EMAIL: options.gitIdentity.email,
    GIT_COMMITTER_NAME: options.gitIdentity.name,
    GIT_COMMITTER_EMAIL: options.gitIdentity.email,
    GIT_TERMINAL_PROMPT: "0",
  };
}

/** The home directories OpenCode writes to (HOME and the XDG ones), relative to the home. */
const HOME_DIRS = ["", ".config", ".cache", ".local", join(".local", "share"), join(".local", "state")];

/**
 * How OpenCode is spawned: in the workdir, with `opencodeEnv`, in its own process group (so
 * stopping it also stops the tools it spawned), and as `runAs` when set. Node then drops every
 * supplementary group and sets the group and user before OpenCode's first instruction.
 */
export function opencodeSpawnOptions(
  options: Pick<OpencodeServerOptions, "cwd" | "home" | "config" | "gitIdentity" | "baseEnv" | "runAs">,
  password: string,
): SpawnOptions {
  return {
    cwd: options.cwd,
    env: opencodeEnv(options, password),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  };
}

async function startOnce(options: OpencodeServerOptions, port: number): Promise<OpencodeServer> {
  const { logger } = options;
  const homeDirs = HOME_DIRS.map((dir) => join(options.home, dir));
  for (const dir of homeDirs) await mkdir(dir, { recursive: true });
  // Nothing of the agent runs yet, so nothing can swap these for links meanwhile.
  if (options.runAs) await givePaths(homeDirs, options.runAs);
  const password = randomBytes(24).toString("base64url");
  const authorization = `Basic ${Buffer.from(`${OPENCODE_USERNAME}:${password}`).toString("base64")}`;
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(options.bin, ["serve", "--hostname=127.0.0.1", `--port=${port}`], opencodeSpawnOptions(options, password));
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", (error) => {
      keep(Buffer.from(errorMessage(error)));
      resolve(-1);
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const deadline = Date.now() + options.startTimeoutMs;
  while (true) {
    if (hasExited) throw new Error(`opencode exited during startup: ${output.trim()}`);
    if (Date.now() > deadline) {
      await stopProcess(child, exited);
      throw new Error(`opencode was not healthy within ${options.startTimeoutMs} ms: ${output.trim()}`);
    }
    const health = await fetch(`${url}/global/health`, { headers: { authorization }, signal: AbortSignal.timeout(2_000) })
      .then(async (response) => (response.ok ? Health.safeParse(await response.json()) : undefined))
      .catch(() => undefined);
    if (health?.success) {
      logger.info("opencode is up", { url, version: health.data.version, pid: child.pid, uid: options.runAs?.uid ?? process.getuid?.() });
      return { url, version: health.data.version, authorization, exited, stop: () => stopProcess(child, exited) };
    }
    await delay(HEALTH_POLL_MS);
  }
}

async function stopProcess(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.pid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid ?? 0), signal);
    } catch {
      // The group is gone already.
    }
  };
  // The whole group is signalled even if OpenCode itself is gone: its tools may still run.
  signalGroup("SIGTERM");
  if (child.exitCode !== null || child.signalCode !== null) return;
  const stopped = await Promise.race([exited.then(() => true), delay(STOP_GRACE_MS).then(() => false)]);
  if (!stopped) {
    signalGroup("SIGKILL");
    await exited;
  }
}

/** Asks the OS for a free loopback port (OpenCode treats `--port=0` as its default port). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not find a free port"))));
    });
  });
}
