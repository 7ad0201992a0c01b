import { SOCKET_CLOSE_CODES } from "@lookout/protocol";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BridgeEventPayload } from "@lookout/protocol";
import { Agent } from "./agent";
import { systemClock } from "./clock";
import { claimedConfig, ConfigError, loadConfig, takeSandboxToken, type BridgeConfig } from "./config";
import { BridgeConnection, type AgentCommand } from "./connection";
import { Git, REMOTE_NAME } from "./git";
import { imageBuildSettings, runImageBuild, type ImageBuildSettings } from "./image-build";
import { executableReadable, isolationFacts, planIsolation, procReadableBySameUid, type IsolationPlan } from "./isolation";
import { createLogger, errorMessage, type Logger } from "./logger";
import { startModelRelay, type ModelRelay } from "./model-relay";
import { buildOpencodeConfig } from "./opencode-config";
import { OpencodeDriver } from "./opencode-driver";
import { primeOpencode } from "./opencode-prime";
import { startOpencodeServer, type OpencodeServer } from "./opencode-server";
import { Outbox } from "./outbox";
import { startWarmUpModel, WARM_UP_MODEL_ID, WARM_UP_PROVIDER_ID, type WarmUpModel } from "./warm-up-model";
import { PoolChannel } from "./pool-channel";
import { adoptSession, claimNeedsRestart, PoolPreparationFailed, preparePoolSandbox, type PoolPreparation } from "./pool-mode";
import { controlPlaneCredentials } from "./scm/git-credentials";
import { MCP_SERVER_NAME, controlPlaneOpener, pushingFirst, startToolServer, type ToolServer } from "./scm/pull-request-tool";
import { PushCoordinator } from "./scm/push";
import { SessionRemote } from "./scm/remote";
import { WorkTreeSync } from "./sync-gate";
import { startUplink } from "./uplink";
import { wsSocketFactory } from "./ws-socket";

/** How long shutdown waits for the session to acknowledge the last critical events. */
const SHUTDOWN_DRAIN_MS = 10_000;
/** How long shutdown waits for a running prompt to stop. */
const SHUTDOWN_PROMPT_MS = 20_000;
/** Exit code for a configuration error (sysexits' EX_CONFIG). */
const EXIT_CONFIG = 78;
/** Exit code when the session refused the bridge's credentials. */
const EXIT_REFUSED = 2;
/** Close codes that end a bridge normally: another connection or a newer sandbox took over. */
const NORMAL_END_CODES: ReadonlySet<number> = new Set([SOCKET_CLOSE_CODES.SUPERSEDED, SOCKET_CLOSE_CODES.SANDBOX_RETIRED]);

/** Set in the environment of the bridge's one re-execution of itself (see `becomeNonDumpable`). */
const REEXECUTED_MARK = "LOOKOUT_BRIDGE_REEXECUTED";

/**
 * A bridge on an execute-only Node should be non-dumpable, but the kernel decides that at exec
 * with the credentials of the process that called exec: bubblewrap still holds capabilities in
 * the sandbox's user namespace then, can read the file, and so leaves the bridge dumpable. The
 * bridge checks, and if so executes itself once more, now without capabilities. Standard input
 * (with the token still unread in it) and the environment carry over.
 */
function becomeNonDumpable(): { reexecuted: boolean } {
  if (process.env[REEXECUTED_MARK] !== undefined) {
    delete process.env[REEXECUTED_MARK];
    return { reexecuted: true };
  }
  if (process.geteuid?.() === 0 || executableReadable() || !procReadableBySameUid() || typeof process.execve !== "function") {
    return { reexecuted: false };
  }
  process.env[REEXECUTED_MARK] = "1";
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], process.env);
  } catch {
    // Still dumpable: the isolation check says so and refuses `non-dumpable`.
    delete process.env[REEXECUTED_MARK];
  }
  return { reexecuted: false };
}

/** What the log says each isolation means for the agent. */
function describeIsolation(plan: IsolationPlan): string {
  switch (plan.mode) {
    case "separate-user":
      return `OpenCode and every tool of the agent run as uid ${plan.agentUser.uid}; the bridge runs as root, whose memory and environment that user cannot read`;
    case "non-dumpable":
      return "the bridge runs on an execute-only Node, so the kernel keeps processes of its uid out of its memory, environment and descriptors";
    case "none":
      return `NOTHING keeps the agent from the sandbox token (${plan.why})`;
  }
}

/**
 * A directory of the bridge's own for git's transport repository and HOME: outside the checkout
 * and the agent's home, readable (the checkout's git fetches from it, as the agent's user under
 * `separate-user`) but writable by the bridge's user alone.
 */
async function privateDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lookout-bridge-"));
  await chmod(dir, 0o755);
  await mkdir(join(dir, "home"), { mode: 0o755 });
  return dir;
}

/** The session's remote: fetches and pushes with short-lived credentials the sandbox token obtains. */
function sessionRemote(config: BridgeConfig, git: Git, dir: string, logger: Logger): SessionRemote | undefined {
  if (!config.repoUrl) return undefined;
  // Git gets a short-lived credential per network command, fetched here with the sandbox
  // token, which itself never leaves this process.
  return new SessionRemote({
    url: config.repoUrl,
    git,
    dir,
    credentials: controlPlaneCredentials({
      controlPlaneUrl: config.controlPlaneUrl,
      sessionId: config.sessionId,
      sandboxId: config.sandboxId,
      sandboxToken: config.sandboxToken,
    }),
    logger,
  });
}

/**
 * The bridge process: prepares the repository, starts OpenCode, and connects to the session,
 * which drives it with commands until the sandbox stops the bridge (SIGTERM) or the session
 * refuses it. In pool mode (`LOOKOUT_POOL_URL`) it first prepares without a session (clone at the
 * base branch, the setup script, OpenCode), reports itself warm and waits for a claim, which
 * brings the session's values; from there on it is that session's bridge.
 */
export async function runBridge(
  initial: BridgeConfig,
  initialLogger: Logger,
  startup: { reexecuted: boolean } = { reexecuted: false },
): Promise<void> {
  let config = initial;
  let logger = initialLogger;
  const outbox = new Outbox(config.outboxMaxEvents);
  let agent: Agent | undefined;
  let server: OpencodeServer | undefined;
  let tools: ToolServer | undefined;
  let relay: ModelRelay | undefined;
  let warmUp: WarmUpModel | undefined;
  let privateDir: string | undefined;
  let connection: BridgeConnection | undefined;
  let shuttingDown = false;
  const waiting: AgentCommand[] = [];
  // The sandbox's only way out (its own network namespace): up before anything dials.
  const uplink = config.uplink ? await startUplink({ ...config.uplink, logger }) : undefined;
  const channel = config.pool ? new PoolChannel(config.pool.url, config.sandboxToken, logger) : undefined;

  const shutdown = async (reason: string, exitCode: number, drain: boolean): Promise<never> => {
    if (!shuttingDown) {
      shuttingDown = true;
      logger.info("bridge shutting down", { reason, exitCode });
      if (agent) await Promise.race([agent.shutdown(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_PROMPT_MS))]);
      if (drain) await connection?.drain(SHUTDOWN_DRAIN_MS);
      connection?.close(1000, "bridge shutting down");
      await server?.stop();
      await tools?.close();
      await relay?.close();
      await warmUp?.close();
      await uplink?.close();
      if (privateDir) await rm(privateDir, { recursive: true, force: true });
      process.exit(exitCode);
    }
    return new Promise<never>(() => {});
  };

  const connect = (): void => {
    const opened = new BridgeConnection({
      url: config.bridgeSocketUrl,
      headers: { authorization: `Bearer ${config.sandboxToken}`, "x-lookout-sandbox-id": config.sandboxId },
      outbox,
      clock: systemClock,
      logger,
      socketFactory: wsSocketFactory,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      livenessTimeoutMs: config.livenessTimeoutMs,
      backoff: { baseMs: 500, maxMs: config.reconnectMaxDelayMs },
      onCommand: (command) => {
        if (agent) agent.handle(command);
        else waiting.push(command);
      },
      onFatal: (code) =>
        void shutdown(`the session refused the bridge (close code ${code})`, NORMAL_END_CODES.has(code) ? 0 : EXIT_REFUSED, false),
    });
    connection = opened;
    opened.start();
  };
  // Connect first: heartbeats flow while the repository is cloned and OpenCode starts. A pool
  // sandbox has no session to connect to until it is claimed.
  if (!channel) connect();
  // Events wait in the outbox until there is a session socket.
  const emit = (event: BridgeEventPayload): void => {
    if (connection) connection.send(event);
    else outbox.push(event);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM", 0, true));
  process.once("SIGINT", () => void shutdown("SIGINT", 0, true));

  try {
    const isolation = planIsolation(config.agentIsolation, isolationFacts(config.agentUser));
    const agentUser = isolation.mode === "separate-user" ? isolation.agentUser : undefined;
    const isolationLog = {
      mode: isolation.mode,
      requested: config.agentIsolation ?? "unset",
      agentUid: agentUser?.uid,
      reexecuted: startup.reexecuted,
    };
    if (isolation.mode === "none") logger.warn(`agent isolation: ${describeIsolation(isolation)}`, isolationLog);
    else logger.info(`agent isolation: ${describeIsolation(isolation)}`, isolationLog);

    const dir = await privateDirectory();
    privateDir = dir;
    const git = new Git(config.workdir, config.committer, logger, agentUser ? { user: agentUser } : {});
    let remote: SessionRemote | undefined;
    let sync: WorkTreeSync | undefined;
    let pool: PoolPreparation | undefined;
    if (channel) {
      pool = await preparePoolSandbox({ config, git, privateDir: dir, channel, agentUser, logger });
      await channel.report({ phase: "opencode" });
    } else {
      remote = sessionRemote(config, git, dir, logger);
    }
    // A work tree from an image or a snapshot catches up while the agent already reads; until then
    // OpenCode asks the bridge before every write (`sync-gate.ts`). `Git.prepare` defers exactly then.
    const holdWrites = !channel && remote !== undefined && git.hasCheckout();
    // The token, the session and the pusher are read per call: a pool sandbox gets them at its claim.
    const session: { pusher?: PushCoordinator } = {};
    relay = await startModelRelay({ providers: config.modelProviders, sandboxToken: () => config.sandboxToken, logger });
    // A pool sandbox's OpenCode is warmed up with one whole prompt, answered on loopback (`opencode-prime.ts`).
    if (channel) warmUp = await startWarmUpModel();
    tools = await startToolServer({
      token: randomBytes(24).toString("base64url"),
      opener: (input) =>
        pushingFirst(
          session.pusher,
          controlPlaneOpener({
            controlPlaneUrl: config.controlPlaneUrl,
            sessionId: config.sessionId,
            sandboxId: config.sandboxId,
            sandboxToken: config.sandboxToken,
          }),
        )(input),
    });
    const opencodeOptions = {
      bin: config.opencodeBin,
      cwd: config.workdir,
      home: config.home,
      config: buildOpencodeConfig({
        model: config.model,
        modelProviders: warmUp ? [...relay.providers, warmUp.provider] : relay.providers,
        mcp: { [MCP_SERVER_NAME]: tools.opencodeConfig },
        holdWrites,
      }),
      gitIdentity: config.committer,
      startTimeoutMs: config.opencodeStartTimeoutMs,
      logger,
      ...(agentUser ? { runAs: agentUser } : {}),
    };
    // OpenCode (2–3 s to start) starts while the repository is cloned or switched, not after it.
    await mkdir(config.workdir, { recursive: true });
    const starting = startOpencodeServer(opencodeOptions).then((started) => (server = started));
    if (!channel) {
      try {
        const deferredSync = await git.prepare({ remote, baseBranch: config.baseBranch, branch: config.branch });
        if ((deferredSync !== undefined) !== holdWrites)
          throw new Error("the work tree's sync was not the one OpenCode was configured for");
        sync = deferredSync
          ? new WorkTreeSync({ run: deferredSync, head: () => git.head(), baseBranch: config.baseBranch, emit, clock: systemClock, logger })
          : undefined;
        sync?.start();
      } catch (error) {
        // Started or not, OpenCode is stopped by the shutdown that follows.
        await starting.catch(() => undefined);
        throw error;
      }
    }
    server = await starting;
    // The session's OpenCode session (read per call: a pool sandbox's config changes at its claim).
    const openDriver = (running: OpencodeServer) =>
      OpencodeDriver.connect({
        url: running.url,
        authorization: running.authorization,
        directory: config.workdir,
        title: `Lookout session ${config.sessionId}`,
        logger,
      });
    let driver: OpencodeDriver | undefined;

    if (channel && pool) {
      // OpenCode's own first-use work happens now, not in the claiming session's first prompt.
      if (warmUp) {
        await primeOpencode(server, config.workdir, { providerID: WARM_UP_PROVIDER_ID, modelID: WARM_UP_MODEL_ID }, logger);
        await warmUp.close();
        warmUp = undefined;
      }
      await channel.report({
        phase: "warm",
        baseHead: pool.baseHead,
        ...(pool.setup.status === "succeeded" ? { setupDurationMs: pool.setup.durationMs } : {}),
      });
      const claim = await channel.waitForClaim();
      config = claimedConfig(config, claim);
      logger = createLogger("bridge", config.logLevel, { sessionId: config.sessionId, sandboxId: config.sandboxId });
      logger.info("pool sandbox claimed", { secrets: Object.keys(claim.env).length });
      connect();
      remote = sessionRemote(config, git, dir, logger);
      // Without a restart, OpenCode's session is created while the work tree is adopted.
      const restart = claimNeedsRestart(claim);
      const [, early] = await Promise.all([adoptSession({ config, claim, git, remote, logger }), restart ? undefined : openDriver(server)]);
      driver = early;
      if (restart) {
        // Secrets reach OpenCode (and the agent's tools) only in the environment it starts with.
        const restarted = Date.now();
        await server.stop();
        // As at a cold start, the sandbox's own variables win over a secret of the same name.
        server = await startOpencodeServer({ ...opencodeOptions, logger, baseEnv: { ...claim.env, ...process.env } });
        logger.info("opencode restarted with the session's secrets", { ms: Date.now() - restarted });
      }
    }
    // A read-only session (a fork's pull request, an auto-review) commits in the sandbox and pushes nothing.
    const pusher =
      remote && !config.readOnly ? new PushCoordinator({ git, remote, remoteName: REMOTE_NAME, branch: config.branch, emit }) : undefined;
    if (pusher) session.pusher = pusher;
    const running = server;
    driver ??= await openDriver(running);
    const ready = new Agent({
      backend: driver,
      git,
      emit,
      clock: systemClock,
      logger,
      lookoutSessionId: config.sessionId,
      textFlushIntervalMs: config.textFlushIntervalMs,
      ...(pusher ? { pusher } : {}),
      ...(sync ? { sync } : {}),
    });
    ready.start();
    agent = ready;
    emit({ type: "bridge.ready", opencodeVersion: running.version });
    for (const command of waiting.splice(0)) ready.handle(command);
    void running.exited.then((code) => {
      if (shuttingDown) return;
      emit({ type: "agent.error", message: `OpenCode exited unexpectedly (exit code ${String(code)}).`, code: "OPENCODE_EXITED" });
      void shutdown("opencode exited", 1, true);
    });
  } catch (error) {
    logger.error("bridge setup failed", { error: errorMessage(error) });
    if (channel && !connection) {
      // Still a pool sandbox: the gateway shows why, with the setup script's output, and backs off.
      const output = error instanceof PoolPreparationFailed ? error.output : undefined;
      await channel.report({
        phase: "failed",
        message: errorMessage(error).slice(0, 2_000),
        ...(output !== undefined ? { output: output.slice(-16_000) } : {}),
      });
    }
    emit({ type: "agent.error", message: `The sandbox could not start the agent: ${errorMessage(error)}`, code: "BRIDGE_SETUP_FAILED" });
    await shutdown("setup failed", 1, true);
  }
}

async function main(): Promise<void> {
  const startup = becomeNonDumpable();
  let config: BridgeConfig;
  try {
    // First of all: the token leaves the environment before anything could pass it on.
    const sandboxToken = await takeSandboxToken(process.env, process.stdin);
    config = loadConfig(process.env, sandboxToken);
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : errorMessage(error)}\n`);
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger("bridge", config.logLevel, { sessionId: config.sessionId, sandboxId: config.sandboxId });
  let build: ImageBuildSettings | undefined;
  try {
    build = imageBuildSettings(process.env);
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n`);
    process.exit(EXIT_CONFIG);
  }
  (build ? runImageBuild(config, build, logger) : runBridge(config, logger, startup)).catch((error: unknown) => {
    logger.error("bridge crashed", { error: errorMessage(error) });
    process.exit(1);
  });
}

void main();
