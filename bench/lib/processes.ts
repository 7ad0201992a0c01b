import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** How long a stopped child gets to exit on SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;
/** How often readiness probes poll. */
const PROBE_INTERVAL_MS = 200;

/** A child process whose output goes to a log file and which is stopped by its own PID. */
export class ManagedProcess {
  private readonly exit: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exit = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /**
   * Spawns `command` in its own process group, so that if it ignores SIGTERM the group it leads
   * (and only that group) can be killed without orphaning grandchildren such as workerd.
   */
  static start(
    name: string,
    command: string,
    args: readonly string[],
    options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
  ): ManagedProcess {
    const log = createWriteStream(options.logFile);
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return new ManagedProcess(name, child, options.logFile);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of the process's output, for error messages. */
  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    process.kill(this.pid, "SIGTERM");
    const exited = await Promise.race([this.exit.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!exited && this.running) {
      process.kill(-this.pid, "SIGKILL");
      await this.exit;
    }
  }
}

/** A TCP port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** Waits until `url` answers below 500, failing fast if `owner` exits first. */
export async function waitForHttp(url: string, owner: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!owner.running) throw new Error(`${owner.name} exited before ${url} came up:\n${owner.tail()}`);
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.status < 500) return;
    } catch {
      // Not listening yet.
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  throw new Error(`${url} did not come up within ${timeoutMs / 1000}s:\n${owner.tail()}`);
}
