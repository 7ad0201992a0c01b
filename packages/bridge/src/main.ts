import type { BridgeEventPayload } from "@lookout/protocol";
import { Agent } from "./agent";
import { systemClock } from "./clock";
import { ConfigError, loadConfig, type BridgeConfig } from "./config";
import { BridgeConnection, type AgentCommand } from "./connection";
import { Git } from "./git";
import { createLogger, errorMessage, type Logger } from "./logger";
import { buildOpencodeConfig } from "./opencode-config";
import { OpencodeDriver } from "./opencode-driver";
import { startOpencodeServer, type OpencodeServer } from "./opencode-server";
import { Outbox } from "./outbox";
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
const NORMAL_END_CODES: ReadonlySet<number> = new Set([4409, 4410]);

/**
 * The bridge process: prepares the repository, starts OpenCode, and connects to the session,
 * which drives it with commands until it shuts the bridge down.
 */
export async function runBridge(config: BridgeConfig, logger: Logger): Promise<void> {
  const outbox = new Outbox(config.outboxMaxEvents);
  let agent: Agent | undefined;
  let server: OpencodeServer | undefined;
  let shuttingDown = false;
  const waiting: AgentCommand[] = [];

  const shutdown = async (reason: string, exitCode: number, drain: boolean): Promise<never> => {
    if (!shuttingDown) {
      shuttingDown = true;
      logger.info("bridge shutting down", { reason, exitCode });
      if (agent) await Promise.race([agent.shutdown(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_PROMPT_MS))]);
      if (drain) await connection.drain(SHUTDOWN_DRAIN_MS);
      connection.close(1000, "bridge shutting down");
      await server?.stop();
      process.exit(exitCode);
    }
    return new Promise<never>(() => {});
  };

  const connection = new BridgeConnection({
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
      if (command.type === "command.shutdown") void shutdown("the session asked the bridge to shut down", 0, true);
      else if (agent) agent.handle(command);
      else waiting.push(command);
    },
    onFatal: (code) =>
      void shutdown(`the session refused the bridge (close code ${code})`, NORMAL_END_CODES.has(code) ? 0 : EXIT_REFUSED, false),
  });
  // Connect first: heartbeats flow while the repository is cloned and OpenCode starts.
  connection.start();
  const emit = (event: BridgeEventPayload): void => {
    connection.send(event);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM", 0, true));
  process.once("SIGINT", () => void shutdown("SIGINT", 0, true));

  try {
    const git = new Git(config.workdir, config.committer, logger);
    await git.prepare({ repoUrl: config.repoUrl, baseBranch: config.baseBranch, branch: config.branch });
    server = await startOpencodeServer({
      bin: config.opencodeBin,
      cwd: config.workdir,
      home: config.home,
      config: buildOpencodeConfig({ model: config.model, modelProviders: config.modelProviders }),
      gitIdentity: config.committer,
      startTimeoutMs: config.opencodeStartTimeoutMs,
      logger,
    });
    const driver = await OpencodeDriver.connect({
      url: server.url,
      authorization: server.authorization,
      directory: config.workdir,
      title: `Lookout session ${config.sessionId}`,
      logger,
    });
    const ready = new Agent({
      backend: driver,
      git,
      emit,
      clock: systemClock,
      logger,
      lookoutSessionId: config.sessionId,
      textFlushIntervalMs: config.textFlushIntervalMs,
    });
    ready.start();
    agent = ready;
    emit({ type: "bridge.ready", opencodeVersion: server.version });
    for (const command of waiting.splice(0)) ready.handle(command);
    void server.exited.then((code) => {
      if (shuttingDown) return;
      emit({ type: "agent.error", message: `OpenCode exited unexpectedly (exit code ${String(code)}).`, code: "OPENCODE_EXITED" });
      void shutdown("opencode exited", 1, true);
    });
  } catch (error) {
    logger.error("bridge setup failed", { error: errorMessage(error) });
    emit({ type: "agent.error", message: `The sandbox could not start the agent: ${errorMessage(error)}`, code: "BRIDGE_SETUP_FAILED" });
    await shutdown("setup failed", 1, true);
  }
}

function main(): void {
  let config: BridgeConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? error.message : errorMessage(error)}\n`);
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger("bridge", config.logLevel, { sessionId: config.sessionId, sandboxId: config.sandboxId });
  runBridge(config, logger).catch((error: unknown) => {
    logger.error("bridge crashed", { error: errorMessage(error) });
    process.exit(1);
  });
}

main();
