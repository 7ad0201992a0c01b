import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { BRIDGE_ENV, Id, type BridgeEventPayload } from "@lookout/protocol";
import { z } from "zod";
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
import { gitCredentialEnv, runCredentialHelper, shellQuote } from "./scm/credential-helper";
import { MCP_SERVER_NAME, controlPlaneOpener, startToolServer, type ToolServer } from "./scm/pull-request-tool";
import { PushCoordinator } from "./scm/push";
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
const NORMAL_END_CODES: ReadonlySet<number> = new Set([4409, 4410]);
/** The first argument that makes this bundle git's credential helper instead of the bridge. */
const CREDENTIAL_HELPER_ARG = "git-credential";
/** The remote name the session's repository is cloned as. */
const REMOTE = "origin";

/**
 * The shell command git runs as the credential helper: this very bundle, with the same Node,
 * paths quoted for the shell git uses for `!` helpers. Git appends the action (`get`, …).
 */
function credentialHelperCommand(nodePath: string, bundlePath: string): string {
  return `!${shellQuote(nodePath)} ${shellQuote(bundlePath)} ${CREDENTIAL_HELPER_ARG}`;
}

/**
 * The bridge process: prepares the repository, starts OpenCode, and connects to the session,
 * which drives it with commands until it shuts the bridge down.
 */
export async function runBridge(config: BridgeConfig, logger: Logger): Promise<void> {
  const outbox = new Outbox(config.outboxMaxEvents);
  let agent: Agent | undefined;
  let server: OpencodeServer | undefined;
  let tools: ToolServer | undefined;
  let shuttingDown = false;
  const waiting: AgentCommand[] = [];
  // The sandbox's only way out (its own network namespace): up before anything dials.
  const uplink = config.uplink ? await startUplink({ ...config.uplink, logger }) : undefined;

  const shutdown = async (reason: string, exitCode: number, drain: boolean): Promise<never> => {
    if (!shuttingDown) {
      shuttingDown = true;
      logger.info("bridge shutting down", { reason, exitCode });
      if (agent) await Promise.race([agent.shutdown(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_PROMPT_MS))]);
      if (drain) await connection.drain(SHUTDOWN_DRAIN_MS);
      connection.close(1000, "bridge shutting down");
      await server?.stop();
      await tools?.close();
      await uplink?.close();
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
    // Git asks this bundle (run as its credential helper) for a short-lived password for the
    // session's remote; the helper inherits the sandbox token from git, which inherits ours.
    // OpenCode's processes get neither this configuration nor the token.
    const credentialEnv = config.repoUrl
      ? gitCredentialEnv(config.repoUrl, credentialHelperCommand(process.execPath, resolve(process.argv[1] ?? "")))
      : {};
    const git = new Git(config.workdir, config.committer, logger, { ...process.env, ...credentialEnv });
    await git.prepare({ repoUrl: config.repoUrl, baseBranch: config.baseBranch, branch: config.branch });
    const pusher = config.repoUrl
      ? new PushCoordinator({ git, remote: REMOTE, branch: config.branch, emit, env: credentialEnv })
      : undefined;
    tools = await startToolServer({
      token: randomBytes(24).toString("base64url"),
      opener: controlPlaneOpener({
        controlPlaneUrl: config.controlPlaneUrl,
        sessionId: config.sessionId,
        sandboxId: config.sandboxId,
        sandboxToken: config.sandboxToken,
      }),
    });
    server = await startOpencodeServer({
      bin: config.opencodeBin,
      cwd: config.workdir,
      home: config.home,
      config: buildOpencodeConfig({
        model: config.model,
        modelProviders: config.modelProviders,
        mcp: { [MCP_SERVER_NAME]: tools.opencodeConfig },
      }),
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
      ...(pusher ? { pusher } : {}),
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

/** What the credential helper needs from the environment git passes on from the bridge. */
const HelperEnv = z.object({
  [BRIDGE_ENV.controlPlaneUrl]: z.string().url(),
  [BRIDGE_ENV.sessionId]: Id,
  [BRIDGE_ENV.sandboxId]: Id,
  [BRIDGE_ENV.sandboxToken]: z.string().min(1),
});

/** Git's credential helper: reads git's request on stdin, writes the credential to stdout. */
async function credentialHelper(action: string): Promise<void> {
  const env = HelperEnv.safeParse(process.env);
  if (!env.success) {
    process.stderr.write("lookout git-credential: the bridge's environment is missing, so no credential can be fetched.\n");
    process.exit(1);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  try {
    const output = await runCredentialHelper(action, Buffer.concat(chunks).toString("utf8"), {
      controlPlaneUrl: env.data[BRIDGE_ENV.controlPlaneUrl],
      sessionId: env.data[BRIDGE_ENV.sessionId],
      sandboxId: env.data[BRIDGE_ENV.sandboxId],
      sandboxToken: env.data[BRIDGE_ENV.sandboxToken],
    });
    // Exit once git has the answer: an idle keep-alive connection must not hold git up.
    process.stdout.write(output, () => process.exit(0));
  } catch (error) {
    // Git shows this and goes on without a password, so the request fails with 401.
    process.stderr.write(`lookout git-credential: ${errorMessage(error)}\n`);
    process.exit(1);
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

if (process.argv[2] === CREDENTIAL_HELPER_ARG) void credentialHelper(process.argv[3] ?? "");
else main();
