import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, symlinkSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BRIDGE_ENV } from "@lookout/protocol";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { IMAGE_LAYOUT, withLayout, type SandboxLayout } from "../bridge-env";
import { classifyErrno, findErrno, providerError, SandboxProviderError } from "../errors";
import { describeError, silentLogger, type Logger } from "../logger";
import type { SandboxCreateConfig, SandboxHandle, SandboxProvider, SandboxProviderCapabilities, SandboxState } from "../provider";
import { prepareExecuteOnlyNode } from "./bridge-node";
import { isOpencodeConfigPrepared, prepareOpencodeConfig } from "./opencode-config";
import { killGroup, signalSandbox } from "./process-tree";
import { LocalSnapshots } from "./snapshots";
import { BWRAP_INSTALL_HINT, bwrapArgs, probeBubblewrap, SANDBOX_PATHS, writeIdentityFiles } from "./bwrap";

const PROVIDER = "local";
/** How long a sandbox gets to exit on SIGTERM before its whole process group is killed. */
export const TERMINATE_GRACE_MS = 3_000;
const SANDBOX_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export interface LocalProviderOptions {
  /** Root of everything the provider writes: `sandboxes/<id>/` and `snapshots/<id>.tar.gz`. */
  readonly dataDir: string;
  /** The bridge bundle (`packages/bridge/dist/bridge.mjs`), bound at /opt/lookout/bridge.mjs. */
  readonly bridgeBundle: string;
  /** The real opencode binary, bound at /opt/lookout/opencode. */
  readonly opencodeBin: string | undefined;
  /**
   * Where OpenCode's config directory is prepared (`prepareOpencodeConfig`, on start, once per
   * machine) and bound read-only into every sandbox, so that OpenCode downloads nothing when it
   * starts. Without it OpenCode installs its plugin package from the registry in each sandbox.
   */
  readonly opencodeConfigDir?: string;
  /** The Node binary sandboxes run; defaults to the gateway's own (resolved through symlinks). */
  readonly nodeBin?: string;
  readonly bwrapPath?: string;
  /** Runs sandboxes as plain child processes without any isolation. Development only. */
  readonly unsafeNoSandbox?: boolean;
  /**
   * The argv run inside the sandbox; defaults to `node /opt/lookout/bridge.mjs`. Tests replace it
   * to run probes instead of the bridge.
   */
  readonly command?: readonly string[];
  readonly logger?: Logger;
}

interface LiveSandbox {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Set once the process tree has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Set when we stopped it (terminate or timeout), so its exit is not a failure. */
  stoppedByUs: boolean;
  readonly exited: Promise<void>;
  timeout: NodeJS.Timeout | undefined;
}

/**
 * The bridge, started through a shell's `exec`: bubblewrap execs its command while it still holds
 * capabilities, and the kernel marks a process non-dumpable for an unreadable binary only when the
 * exec happens without them. The shell's exec does, so the bridge starts non-dumpable.
 */
const DEFAULT_COMMAND = ["/bin/sh", "-c", 'exec "$0" "$@"', SANDBOX_PATHS.bridgeNode, SANDBOX_PATHS.bridge] as const;

/**
 * Sandboxes as bubblewrap process trees on the gateway's host: the embedded default. Each sandbox
 * has a private directory `<dataDir>/sandboxes/<id>/` holding `workspace/` (bound at /workspace),
 * `home/` (bound at /home/sandbox) and `log` (the sandbox's stdout and stderr).
 */
export class LocalProvider implements SandboxProvider {
  readonly name = PROVIDER;
  readonly capabilities: SandboxProviderCapabilities;

  private readonly live = new Map<string, LiveSandbox>();
  private readonly logger: Logger;
  private readonly nodeBin: string;
  private readonly bwrapPath: string;
  private readonly command: readonly string[];
  private readonly snapshots: LocalSnapshots;

  private constructor(private readonly options: LocalProviderOptions) {
    this.logger = (options.logger ?? silentLogger).child({ provider: PROVIDER });
    this.nodeBin = options.nodeBin ?? realpathSync(process.execPath);
    this.bwrapPath = options.bwrapPath ?? "/usr/bin/bwrap";
    this.command = options.command ?? DEFAULT_COMMAND;
    this.snapshots = new LocalSnapshots(join(options.dataDir, "snapshots"));
    this.capabilities = {
      snapshots: true,
      restore: true,
      timeouts: true,
      maxTimeoutMs: 24 * 3600_000,
      snapshotStopsSandbox: false,
      network: options.unsafeNoSandbox ? "host" : "uplink",
    };
  }

  /**
   * Creates the provider after checking that bubblewrap works. Refuses to start without it unless
   * `unsafeNoSandbox` is set, in which case it warns loudly.
   */
  static async start(options: LocalProviderOptions): Promise<LocalProvider> {
    const provider = new LocalProvider(options);
    if (options.unsafeNoSandbox) {
      provider.logger.warn(
        "LOOKOUT_UNSAFE_NO_SANDBOX=1: sandboxes run WITHOUT ANY ISOLATION as the gateway's user. " +
          "The agent can read and change everything this user can. Use this for development only.",
      );
    } else {
      const probe = probeBubblewrap(provider.bwrapPath);
      if (!probe.ok) throw new Error(`bubblewrap is not usable (${probe.problem}). ${BWRAP_INSTALL_HINT}`);
    }
    await mkdir(join(options.dataDir, "sandboxes"), { recursive: true });
    await mkdir(join(options.dataDir, "snapshots"), { recursive: true });
    if (!options.unsafeNoSandbox) await prepareExecuteOnlyNode(provider.nodeBin, provider.bridgeNodeBin);
    if (options.opencodeConfigDir) {
      // Once per machine (the directory is shared); a failure leaves OpenCode to install for itself.
      await prepareOpencodeConfig(options.opencodeConfigDir, SANDBOX_IMAGE).catch((error: unknown) =>
        provider.logger.warn("sandboxes will download OpenCode's packages at start", { error: describeError(error) }),
      );
    }
    return provider;
  }

  /** The execute-only copy of Node the bridge runs on, refreshed when the host's Node changes. */
  private get bridgeNodeBin(): string {
    return join(this.options.dataDir, "bin", "node");
  }

  /** The prepared OpenCode config directory, when there is one and it is complete. */
  private get opencodeConfigDir(): string | undefined {
    const dir = this.options.opencodeConfigDir;
    return dir && isOpencodeConfigPrepared(dir, SANDBOX_IMAGE) ? dir : undefined;
  }

  /** The host directory of one sandbox (tests inspect it; the gateway never exposes it). */
  sandboxDir(providerId: string): string {
    return join(this.options.dataDir, "sandboxes", providerId);
  }

  /** The host PID of the sandbox's outermost process (bubblewrap), while it runs. */
  pidOf(providerId: string): number | undefined {
    const sandbox = this.live.get(providerId);
    return sandbox && !sandbox.exit ? sandbox.pid : undefined;
  }

  async create(config: SandboxCreateConfig): Promise<SandboxHandle> {
    const providerId = config.sandboxId;
    if (!SANDBOX_ID_PATTERN.test(providerId)) {
      throw providerError(PROVIDER, "The sandbox id is not a valid directory name.", { kind: "permanent", reason: "invalid_request" });
    }
    const dir = this.sandboxDir(providerId);
    if (this.live.has(providerId) || existsSync(dir)) {
      throw providerError(PROVIDER, `Sandbox ${providerId} already exists.`, { kind: "permanent", reason: "conflict" });
    }
    if (this.capabilities.network === "uplink" && !config.uplinkSocket) {
      throw providerError(PROVIDER, "A bubblewrap sandbox needs the gateway's relay socket (uplinkSocket).", {
        kind: "permanent",
        reason: "invalid_request",
      });
    }
    if (this.command === DEFAULT_COMMAND && !existsSync(this.options.bridgeBundle)) {
      throw providerError(
        PROVIDER,
        `The bridge bundle ${this.options.bridgeBundle} does not exist; build it with \`pnpm --filter @lookout/bridge build\`.`,
        { kind: "permanent", reason: "unavailable" },
      );
    }
    try {
      await mkdir(join(dir, "workspace"), { recursive: true });
      await mkdir(join(dir, "home"), { recursive: true });
      await mkdir(join(dir, "etc"), { recursive: true });
      // The bridge clones the repository itself (local ones from the gateway's git endpoint); a
      // snapshot brings the clone along.
      if (config.source.kind === "snapshot") await this.snapshots.unpack(config.source.snapshotId, dir);
      this.launch(providerId, config);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw asProviderError(error, "Could not start the sandbox");
    }
    return { providerId, status: "running" };
  }

  async restore(snapshotId: string, config: Omit<SandboxCreateConfig, "source">): Promise<SandboxHandle> {
    return this.create({ ...config, source: { kind: "snapshot", snapshotId } });
  }

  status(providerId: string): Promise<SandboxState> {
    try {
      return Promise.resolve(this.currentState(providerId));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** What a sandbox is doing, from the live process table and the data directory. */
  private currentState(providerId: string): SandboxState {
    const sandbox = this.live.get(providerId);
    if (sandbox) {
      if (!sandbox.exit) return "running";
      if (sandbox.stoppedByUs || sandbox.exit.code === 0) return "stopped";
      return "failed";
    }
    // A directory without a process is a sandbox from before a gateway restart (its processes
    // died with the old gateway) or one that was stopped: either way it is not running.
    if (SANDBOX_ID_PATTERN.test(providerId) && existsSync(this.sandboxDir(providerId))) return "stopped";
    throw notFound(providerId);
  }

  async snapshot(providerId: string): Promise<{ snapshotId: string }> {
    const dir = this.sandboxDir(providerId);
    if (!SANDBOX_ID_PATTERN.test(providerId) || !existsSync(join(dir, "workspace"))) throw notFound(providerId);
    const snapshotId = await this.snapshots.take(dir).catch((error: unknown) => {
      throw asProviderError(error, "Could not archive the work directory");
    });
    this.logger.info("snapshot taken", { providerId, snapshotId });
    return { snapshotId };
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.snapshots.delete(snapshotId).catch((error: unknown) => {
      throw asProviderError(error, "Could not delete the snapshot");
    });
    this.logger.info("snapshot deleted", { snapshotId });
  }

  async terminate(providerId: string): Promise<void> {
    if (!SANDBOX_ID_PATTERN.test(providerId)) throw notFound(providerId);
    await this.stop(providerId);
    this.live.delete(providerId);
    await rm(this.sandboxDir(providerId), { recursive: true, force: true });
    this.logger.info("sandbox terminated", { providerId });
  }

  async close(): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.stop(id)));
  }

  private launch(providerId: string, config: SandboxCreateConfig): void {
    const dir = this.sandboxDir(providerId);
    const child = this.options.unsafeNoSandbox ? this.spawnUnsandboxed(dir, config) : this.spawnSandboxed(dir, config);
    if (child.pid === undefined) {
      throw providerError(PROVIDER, "The sandbox process did not start.", { kind: "transient", reason: "unavailable" });
    }
    let markExited: () => void = () => {};
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const sandbox: LiveSandbox = { child, pid: child.pid, exit: undefined, stoppedByUs: false, exited, timeout: undefined };
    child.on("exit", (code, signal) => {
      sandbox.exit = { code, signal };
      if (sandbox.timeout) clearTimeout(sandbox.timeout);
      this.logger.info("sandbox exited", { providerId, code, signal });
      markExited();
    });
    child.on("error", (error) => this.logger.error("sandbox process error", { providerId, error: describeError(error) }));
    sandbox.timeout = setTimeout(
      () => {
        this.logger.info("sandbox timed out", { providerId, timeoutMs: config.timeoutMs });
        void this.stop(providerId);
      },
      Math.min(config.timeoutMs, this.capabilities.maxTimeoutMs),
    );
    sandbox.timeout.unref();
    this.live.set(providerId, sandbox);
    this.logger.info("sandbox started", { providerId, pid: child.pid, sandboxed: !this.options.unsafeNoSandbox });
  }

  private spawnSandboxed(dir: string, config: SandboxCreateConfig): ChildProcess {
    const uplinkSocket = config.uplinkSocket;
    if (!uplinkSocket) throw providerError(PROVIDER, "No relay socket for the sandbox.", { kind: "permanent", reason: "invalid_request" });
    const passwdFile = join(dir, "etc", "passwd");
    const groupFile = join(dir, "etc", "group");
    writeIdentityFiles(passwdFile, groupFile);
    const args = bwrapArgs(
      {
        workspaceDir: join(dir, "workspace"),
        homeDir: join(dir, "home"),
        passwdFile,
        groupFile,
        nodeBin: this.nodeBin,
        opencodeBin: this.options.opencodeBin && existsSync(this.options.opencodeBin) ? this.options.opencodeBin : undefined,
        bridgeBundle: existsSync(this.options.bridgeBundle) ? this.options.bridgeBundle : undefined,
        bridgeNodeBin: this.bridgeNodeBin,
        uplinkSocket,
        opencodeConfigDir: this.opencodeConfigDir,
      },
      this.command,
    );
    // The sandbox token travels on the bridge's stdin, never in an environment: bubblewrap's own
    // process inside the sandbox is readable by the agent's uid and keeps the environment it got.
    const { [BRIDGE_ENV.sandboxToken]: token, ...rest } = config.env;
    const env: Record<string, string> = {
      ...rest,
      ...(token === undefined ? {} : { [BRIDGE_ENV.sandboxTokenSource]: "stdin" }),
      // The agent runs as the bridge's uid here, so the bridge must be non-dumpable or refuse to start.
      [BRIDGE_ENV.agentIsolation]: "non-dumpable",
    };
    // The child keeps its own copy of the log descriptor once spawned.
    const logFd = openSync(join(dir, "log"), "a");
    try {
      // The sandbox's environment is exactly the bridge's: nothing of the gateway's own
      // environment (which holds the real model API keys) is inherited.
      const child = spawn(this.bwrapPath, args, {
        env: withLayout(env, IMAGE_LAYOUT),
        stdio: ["pipe", logFd, logFd],
        detached: true,
      });
      child.stdin?.on("error", () => {
        // The process may exit before reading its stdin; its exit is reported on its own.
      });
      child.stdin?.end(token === undefined ? "" : `${token}\n`);
      return child;
    } finally {
      closeSync(logFd);
    }
  }

  private spawnUnsandboxed(dir: string, config: SandboxCreateConfig): ChildProcess {
    const layout: SandboxLayout = {
      workdir: join(dir, "workspace", "repo"),
      home: join(dir, "home"),
      opencodeBin: this.options.opencodeBin ?? "opencode",
      path: `${dirname(this.nodeBin)}:/usr/local/bin:/usr/bin:/bin`,
    };
    const command = this.command === DEFAULT_COMMAND ? [this.nodeBin, this.options.bridgeBundle] : [...this.command];
    const [file, ...args] = command;
    if (!file) throw providerError(PROVIDER, "The sandbox command is empty.", { kind: "permanent", reason: "invalid_request" });
    // No bind mounts here: a link to the shared directory stands in for the read-only bind.
    const opencodeConfigDir = this.opencodeConfigDir;
    if (opencodeConfigDir) {
      mkdirSync(join(layout.home, ".config"), { recursive: true });
      symlinkSync(opencodeConfigDir, join(layout.home, ".config", "opencode"));
    }
    const logFd = openSync(join(dir, "log"), "a");
    try {
      return spawn(file, args, {
        cwd: join(dir, "workspace"),
        env: withLayout(config.env, layout),
        stdio: ["ignore", logFd, logFd],
        detached: true,
      });
    } finally {
      closeSync(logFd);
    }
  }

  /**
   * Stops the whole process group: SIGTERM, then SIGKILL after the grace period. A bubblewrap
   * sandbox's PID namespace goes first, at once (see `signalSandbox`).
   */
  private async stop(providerId: string): Promise<void> {
    const sandbox = this.live.get(providerId);
    if (!sandbox || sandbox.exit) return;
    sandbox.stoppedByUs = true;
    if (sandbox.timeout) clearTimeout(sandbox.timeout);
    if (this.options.unsafeNoSandbox) killGroup(sandbox.pid, "SIGTERM");
    else signalSandbox(sandbox.pid, "SIGTERM");
    const grace = new Promise<"grace">((resolve) => setTimeout(() => resolve("grace"), TERMINATE_GRACE_MS).unref());
    if ((await Promise.race([sandbox.exited.then(() => "exited" as const), grace])) === "grace") {
      killGroup(sandbox.pid, "SIGKILL");
      await sandbox.exited;
    }
    // The sandbox's own processes live in a separate session inside the PID namespace; killing
    // bubblewrap tears the namespace down, and this makes sure nothing of the group lingers.
    killGroup(sandbox.pid, "SIGKILL");
  }
}

function notFound(providerId: string): SandboxProviderError {
  return providerError(PROVIDER, `No sandbox ${providerId}.`, { kind: "permanent", reason: "not_found" });
}

function asProviderError(error: unknown, what: string): SandboxProviderError {
  if (error instanceof SandboxProviderError) return error;
  const errno = findErrno(error);
  const classification = errno ? classifyErrno(errno) : { kind: "permanent" as const, reason: "internal" as const };
  return providerError(PROVIDER, `${what}: ${describeError(error)}`, classification, { code: errno, cause: error });
}
