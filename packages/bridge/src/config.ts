import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  AGENT_ISOLATION_MODES,
  BRIDGE_ENV,
  Id,
  ModelProviderConfigList,
  ModelRef,
  summarizeIssues,
  type AgentIsolationMode,
  type ModelProviderConfig,
  type PoolClaim,
} from "@lookout/protocol";
import { z } from "zod";
import { checkBranchName } from "./branch";
import { DEFAULT_SETUP_TIMEOUT_MS } from "./setup-script";
import type { LogLevel } from "./logger";

/** Defaults, one named constant each. */
export const DEFAULT_WORKDIR = "/workspace/repo";
export const DEFAULT_BASE_BRANCH = "main";
export const DEFAULT_COMMITTER = { name: "Lookout", email: "bot@lookout.local" } as const;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
export const DEFAULT_OUTBOX_MAX_EVENTS = 2_000;
export const DEFAULT_TEXT_FLUSH_INTERVAL_MS = 100;
export const DEFAULT_OPENCODE_START_TIMEOUT_MS = 60_000;
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 30_000;
/** With no frame or pong from the session for this long, the bridge drops the socket and redials. */
export const DEFAULT_LIVENESS_TIMEOUT_MS = 45_000;
/** The image's unprivileged user (`SANDBOX_IMAGE.user` in `infra/sandbox-image`), OpenCode's under `separate-user`. */
export const DEFAULT_AGENT_USER = "sandbox";
/** How long the bridge waits for the sandbox token on its standard input. */
export const DEFAULT_TOKEN_READ_TIMEOUT_MS = 10_000;
/** The longest token line read from standard input; anything longer is not a token. */
const MAX_TOKEN_LINE_BYTES = 4_096;

const BranchName = z.string().superRefine((name, ctx) => {
  const check = checkBranchName(name);
  if (!check.ok) ctx.addIssue({ code: "custom", message: `branch name ${JSON.stringify(name)} ${check.reason}` });
});

const HttpUrl = z
  .string()
  .url()
  .refine((url) => /^https?:\/\//.test(url), "must be an http(s) URL")
  .transform((url) => url.replace(/\/+$/, ""));

const PositiveMs = z.coerce.number().int().positive();

const JsonProviders = z.string().transform((text, ctx): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: "is not valid JSON" });
    return z.NEVER;
  }
});

/** The bridge's environment, validated in one place; names match `BRIDGE_ENV` in the protocol. */
const Env = z.object({
  LOOKOUT_SESSION_ID: Id,
  LOOKOUT_SANDBOX_ID: Id,
  LOOKOUT_CONTROL_PLANE_URL: HttpUrl,
  LOOKOUT_WORKDIR: z.string().min(1).default(DEFAULT_WORKDIR),
  LOOKOUT_REPO_URL: z.string().min(1).optional(),
  LOOKOUT_BASE_BRANCH: BranchName.default(DEFAULT_BASE_BRANCH),
  LOOKOUT_BRANCH: BranchName.optional(),
  LOOKOUT_MODEL: ModelRef,
  LOOKOUT_MODEL_PROVIDERS: JsonProviders.pipe(ModelProviderConfigList).default([]),
  LOOKOUT_OPENCODE_BIN: z.string().min(1).default("opencode"),
  LOOKOUT_HOME: z.string().min(1).optional(),
  LOOKOUT_GIT_COMMITTER_NAME: z.string().min(1).max(200).default(DEFAULT_COMMITTER.name),
  LOOKOUT_GIT_COMMITTER_EMAIL: z.string().min(3).max(320).default(DEFAULT_COMMITTER.email),
  LOOKOUT_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  LOOKOUT_HEARTBEAT_INTERVAL_MS: PositiveMs.default(DEFAULT_HEARTBEAT_INTERVAL_MS),
  LOOKOUT_LIVENESS_TIMEOUT_MS: z.coerce.number().int().nonnegative().default(DEFAULT_LIVENESS_TIMEOUT_MS),
  LOOKOUT_RECONNECT_MAX_DELAY_MS: PositiveMs.default(DEFAULT_RECONNECT_MAX_DELAY_MS),
  LOOKOUT_OUTBOX_MAX_EVENTS: PositiveMs.default(DEFAULT_OUTBOX_MAX_EVENTS),
  LOOKOUT_TEXT_FLUSH_INTERVAL_MS: PositiveMs.default(DEFAULT_TEXT_FLUSH_INTERVAL_MS),
  LOOKOUT_OPENCODE_START_TIMEOUT_MS: PositiveMs.default(DEFAULT_OPENCODE_START_TIMEOUT_MS),
  LOOKOUT_READ_ONLY: z.enum(["0", "1"]).default("0"),
  LOOKOUT_POOL_URL: HttpUrl.optional(),
  LOOKOUT_SETUP_TIMEOUT_MS: PositiveMs.default(DEFAULT_SETUP_TIMEOUT_MS),
  LOOKOUT_UPLINK_SOCKET: z.string().min(1).optional(),
  LOOKOUT_UPLINK_PORT: z.coerce.number().int().min(1).max(65_535).optional(),
  LOOKOUT_AGENT_ISOLATION: z.enum(AGENT_ISOLATION_MODES).optional(),
  LOOKOUT_AGENT_USER: z
    .string()
    .regex(/^([a-z_][a-z0-9_-]{0,31}|\d{1,10}(:\d{1,10})?)$/, "must be a user name, a uid or uid:gid")
    .default(DEFAULT_AGENT_USER),
});

export interface BridgeConfig {
  sessionId: string;
  sandboxId: string;
  sandboxToken: string;
  controlPlaneUrl: string;
  /** `ws(s)://…/api/sessions/<id>/bridge`, derived from the control plane URL. */
  bridgeSocketUrl: string;
  workdir: string;
  repoUrl: string | undefined;
  baseBranch: string;
  branch: string;
  model: string;
  modelProviders: ModelProviderConfig[];
  opencodeBin: string;
  home: string;
  committer: { name: string; email: string };
  logLevel: LogLevel;
  heartbeatIntervalMs: number;
  livenessTimeoutMs: number;
  reconnectMaxDelayMs: number;
  outboxMaxEvents: number;
  textFlushIntervalMs: number;
  opencodeStartTimeoutMs: number;
  /** The session may not push (a fork's pull request, an auto-review): commits stay in the sandbox. */
  readOnly: boolean;
  /** The forwarder to the gateway's relay, when the sandbox has its own network namespace. */
  uplink: { socketPath: string; port: number } | undefined;
  /**
   * Set for a warm-pool sandbox: its pool channel and the setup script's time limit. Until a claim
   * (`claimedConfig`) the session values are the pool sandbox's own.
   */
  pool: { url: string; setupTimeoutMs: number } | undefined;
  /** The isolation the provider asked for; undefined lets the bridge work out which one holds. */
  agentIsolation: AgentIsolationMode | undefined;
  /** Who OpenCode runs as under `separate-user`: a user name, `uid` or `uid:gid`. */
  agentUser: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Takes the sandbox token out of the bridge's environment, before anything else runs: both
 * `LOOKOUT_SANDBOX_TOKEN` and `LOOKOUT_SANDBOX_TOKEN_SOURCE` are deleted from `env` at once (so no
 * child process inherits them), and with `LOOKOUT_SANDBOX_TOKEN_SOURCE=stdin` the token is the
 * first line of `stdin`, which the provider writes and closes (then no environment in the sandbox
 * ever held it). Throws `ConfigError` when there is no token.
 */
export async function takeSandboxToken(
  env: NodeJS.ProcessEnv,
  stdin: Readable,
  timeoutMs: number = DEFAULT_TOKEN_READ_TIMEOUT_MS,
): Promise<string> {
  const fromEnv = env[BRIDGE_ENV.sandboxToken];
  const source = env[BRIDGE_ENV.sandboxTokenSource];
  delete env[BRIDGE_ENV.sandboxToken];
  delete env[BRIDGE_ENV.sandboxTokenSource];
  if (source === undefined || source === "env") {
    if (fromEnv) return fromEnv;
    throw new ConfigError(
      `The bridge has no sandbox token: set ${BRIDGE_ENV.sandboxToken}, or ${BRIDGE_ENV.sandboxTokenSource}=stdin and write the token on its standard input.`,
    );
  }
  if (source !== "stdin") {
    throw new ConfigError(
      `The bridge's environment is invalid: ${BRIDGE_ENV.sandboxTokenSource} must be "stdin" or "env", not ${JSON.stringify(source)}.`,
    );
  }
  if (fromEnv !== undefined) {
    throw new ConfigError(
      `The bridge's environment is invalid: ${BRIDGE_ENV.sandboxTokenSource}=stdin, yet ${BRIDGE_ENV.sandboxToken} is set too; the token must be in one place only.`,
    );
  }
  const token = await readFirstLine(stdin, timeoutMs);
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError(
      `${BRIDGE_ENV.sandboxTokenSource}=stdin, but the bridge's standard input ${token === "" ? "held no token" : "held something other than a token"}: the provider writes the token as one line.`,
    );
  }
  return token;
}

/** The first line of a stream (without its newline), read until a newline, EOF or the deadline. */
function readFirstLine(stream: Readable, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = (outcome: { line: string } | { error: ConfigError }): void => {
      clearTimeout(timer);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      // Nothing else is read from it: closing it drops the pipe the token came through.
      stream.destroy();
      if ("line" in outcome) resolve(outcome.line);
      else reject(outcome.error);
    };
    const onData = (chunk: Buffer | string): void => {
      text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      const newline = text.indexOf("\n");
      if (newline >= 0) finish({ line: text.slice(0, newline).replace(/\r$/, "") });
      else if (text.length > MAX_TOKEN_LINE_BYTES)
        finish({ error: new ConfigError(`The bridge's standard input holds no token line of at most ${MAX_TOKEN_LINE_BYTES} bytes.`) });
    };
    const onEnd = (): void => finish({ line: text.replace(/\r$/, "") });
    const onError = (error: Error): void =>
      finish({ error: new ConfigError(`The bridge could not read the sandbox token from its standard input: ${error.message}.`) });
    const timer = setTimeout(
      () =>
        finish({
          error: new ConfigError(
            `${BRIDGE_ENV.sandboxTokenSource}=stdin, but no token line arrived on the bridge's standard input within ${timeoutMs} ms.`,
          ),
        }),
      timeoutMs,
    );
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", onError);
  });
}

/**
 * Reads the configuration from the environment (the token comes from `takeSandboxToken`); throws
 * `ConfigError` saying which variables are wrong.
 */
export function loadConfig(env: NodeJS.ProcessEnv, sandboxToken: string): BridgeConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const missing = parsed.error.issues
      .filter((issue) => issue.path.length === 1 && env[String(issue.path[0])] === undefined)
      .map((issue) => String(issue.path[0]));
    const invalid = parsed.error.issues.filter((issue) => !missing.includes(String(issue.path[0])));
    const parts = [
      ...(missing.length > 0 ? [`set ${missing.join(", ")}`] : []),
      ...(invalid.length > 0 ? [`fix ${summarizeIssues(new z.ZodError(invalid))}`] : []),
    ];
    throw new ConfigError(`The bridge's environment is incomplete or invalid: ${parts.join("; ")}.`);
  }
  const e = parsed.data;
  const providerIds = new Set(e.LOOKOUT_MODEL_PROVIDERS.map((p) => p.id));
  if (providerIds.size !== e.LOOKOUT_MODEL_PROVIDERS.length) {
    throw new ConfigError("The bridge's environment is invalid: LOOKOUT_MODEL_PROVIDERS lists a provider id twice.");
  }
  return {
    sessionId: e.LOOKOUT_SESSION_ID,
    sandboxId: e.LOOKOUT_SANDBOX_ID,
    sandboxToken,
    controlPlaneUrl: e.LOOKOUT_CONTROL_PLANE_URL,
    bridgeSocketUrl: bridgeSocketUrl(e.LOOKOUT_CONTROL_PLANE_URL, e.LOOKOUT_SESSION_ID),
    workdir: e.LOOKOUT_WORKDIR,
    repoUrl: e.LOOKOUT_REPO_URL,
    baseBranch: e.LOOKOUT_BASE_BRANCH,
    branch: e.LOOKOUT_BRANCH ?? `lookout/${e.LOOKOUT_SESSION_ID}`,
    model: e.LOOKOUT_MODEL,
    modelProviders: e.LOOKOUT_MODEL_PROVIDERS,
    opencodeBin: e.LOOKOUT_OPENCODE_BIN,
    home: e.LOOKOUT_HOME ?? join(tmpdir(), `lookout-home-${e.LOOKOUT_SANDBOX_ID}`),
    committer: { name: e.LOOKOUT_GIT_COMMITTER_NAME, email: e.LOOKOUT_GIT_COMMITTER_EMAIL },
    logLevel: e.LOOKOUT_LOG_LEVEL,
    heartbeatIntervalMs: e.LOOKOUT_HEARTBEAT_INTERVAL_MS,
    livenessTimeoutMs: e.LOOKOUT_LIVENESS_TIMEOUT_MS,
    reconnectMaxDelayMs: e.LOOKOUT_RECONNECT_MAX_DELAY_MS,
    outboxMaxEvents: e.LOOKOUT_OUTBOX_MAX_EVENTS,
    textFlushIntervalMs: e.LOOKOUT_TEXT_FLUSH_INTERVAL_MS,
    opencodeStartTimeoutMs: e.LOOKOUT_OPENCODE_START_TIMEOUT_MS,
    readOnly: e.LOOKOUT_READ_ONLY === "1",
    uplink: uplinkConfig(e.LOOKOUT_UPLINK_SOCKET, e.LOOKOUT_UPLINK_PORT),
    pool: e.LOOKOUT_POOL_URL ? { url: e.LOOKOUT_POOL_URL, setupTimeoutMs: e.LOOKOUT_SETUP_TIMEOUT_MS } : undefined,
    agentIsolation: e.LOOKOUT_AGENT_ISOLATION,
    agentUser: e.LOOKOUT_AGENT_USER,
  };
}

function uplinkConfig(socketPath: string | undefined, port: number | undefined): BridgeConfig["uplink"] {
  if (socketPath === undefined && port === undefined) return undefined;
  if (socketPath === undefined || port === undefined) {
    throw new ConfigError("The bridge's environment is invalid: set both LOOKOUT_UPLINK_SOCKET and LOOKOUT_UPLINK_PORT, or neither.");
  }
  return { socketPath, port };
}

/**
 * A warm-pool bridge's configuration once a session claimed it: the session's ids, token, URLs,
 * branches and model replace the pool sandbox's own, and it is no longer in pool mode.
 */
export function claimedConfig(config: BridgeConfig, claim: PoolClaim): BridgeConfig {
  return {
    ...config,
    sessionId: claim.sessionId,
    sandboxId: claim.sandboxId,
    sandboxToken: claim.sandboxToken,
    controlPlaneUrl: claim.controlPlaneUrl.replace(/\/+$/, ""),
    bridgeSocketUrl: bridgeSocketUrl(claim.controlPlaneUrl.replace(/\/+$/, ""), claim.sessionId),
    repoUrl: claim.repoUrl,
    baseBranch: claim.baseBranch,
    branch: claim.branch,
    model: claim.model,
    readOnly: claim.readOnly === true,
    pool: undefined,
  };
}

export function bridgeSocketUrl(controlPlaneUrl: string, sessionId: string): string {
  const url = new URL(`${controlPlaneUrl}/api/sessions/${encodeURIComponent(sessionId)}/bridge`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/** Splits `provider/model` at the first slash (model ids may contain slashes themselves). */
export function splitModelRef(ref: string): { providerID: string; modelID: string } {
  const slash = ref.indexOf("/");
  return { providerID: ref.slice(0, slash), modelID: ref.slice(slash + 1) };
}
