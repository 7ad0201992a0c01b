import { z } from "zod";

/**
 * The environment contract between whoever starts a sandbox (the sandbox gateway) and the bridge
 * inside it. Every sandbox provider launches `node /opt/lookout/bridge.mjs` with these variables.
 */
export const BRIDGE_ENV = {
  sessionId: "LOOKOUT_SESSION_ID",
  sandboxId: "LOOKOUT_SANDBOX_ID",
  /** The per-sandbox token: authenticates the bridge to the control plane and to the model proxy. */
  sandboxToken: "LOOKOUT_SANDBOX_TOKEN",
  controlPlaneUrl: "LOOKOUT_CONTROL_PLANE_URL",
  /** Where the repository lives inside the sandbox (`/workspace/repo`). */
  workdir: "LOOKOUT_WORKDIR",
  /**
   * The repository's HTTP(S) URL: the bridge clones it into the workdir and pushes the session
   * branch to it (a local repository's is the gateway's `/git/<session id>.git`).
   */
  repoUrl: "LOOKOUT_REPO_URL",
  baseBranch: "LOOKOUT_BASE_BRANCH",
  branch: "LOOKOUT_BRANCH",
  /** The session's default model as `provider/model`. */
  model: "LOOKOUT_MODEL",
  /** JSON: `ModelProviderConfig[]`. */
  modelProviders: "LOOKOUT_MODEL_PROVIDERS",
  opencodeBin: "LOOKOUT_OPENCODE_BIN",
  /** A private, writable home for OpenCode's config, data and cache. */
  home: "LOOKOUT_HOME",
  /**
   * Set to `stdin` when the provider hands the sandbox token on the bridge's standard input (one
   * line) instead of in `LOOKOUT_SANDBOX_TOKEN`, so no environment in the sandbox ever holds it.
   */
  sandboxTokenSource: "LOOKOUT_SANDBOX_TOKEN_SOURCE",
  /**
   * How the agent is kept from reading the bridge's credentials (`AGENT_ISOLATION_MODES`), chosen
   * by the provider; when unset the bridge works out which one holds and logs it.
   */
  agentIsolation: "LOOKOUT_AGENT_ISOLATION",
  /** The user OpenCode runs as under `separate-user` isolation: a name, `uid` or `uid:gid` (default `sandbox`). */
  agentUser: "LOOKOUT_AGENT_USER",
  /**
   * The sandbox's one way out when it has its own network namespace: a Unix socket to the
   * gateway's per-sandbox relay. The bridge forwards `127.0.0.1:<LOOKOUT_UPLINK_PORT>` inside the
   * sandbox to it; every Lookout URL in the sandbox and its HTTP(S) proxy point at that port.
   */
  uplinkSocket: "LOOKOUT_UPLINK_SOCKET",
  uplinkPort: "LOOKOUT_UPLINK_PORT",
  /**
   * `1` for a session that may not push (a fork's pull request, an auto-review): the bridge commits
   * the agent's work in the sandbox and pushes nothing.
   */
  readOnly: "LOOKOUT_READ_ONLY",
  /**
   * Set only for a warm-pool sandbox (no session yet): its pool channel on the gateway
   * (`<gateway>/pool-bridge/<sandbox id>`), where the bridge reports its preparation and waits for
   * the claim that hands it a session. `LOOKOUT_SESSION_ID` then holds the pool sandbox's own id.
   */
  poolUrl: "LOOKOUT_POOL_URL",
  /**
   * Set only for a repository image build (ADR 0015): its build channel on the gateway
   * (`<gateway>/image-build/<sandbox id>`). The bridge clones the base branch, runs the setup
   * script, reports there and waits to be snapshotted; it connects to no session.
   */
  imageBuildUrl: "LOOKOUT_IMAGE_BUILD_URL",
  /** How long a pool sandbox's setup script (`.lookout/setup.sh`) may run, in milliseconds. */
  setupTimeoutMs: "LOOKOUT_SETUP_TIMEOUT_MS",
} as const;

/**
 * How the agent's processes are kept from the bridge's credentials:
 * - `non-dumpable`: the bridge runs on an execute-only Node, so the kernel makes it non-dumpable
 *   and the agent (the same uid) cannot open its `/proc/<pid>/environ`, `mem` or `fd` (local);
 * - `separate-user`: the bridge runs as root and starts OpenCode as `LOOKOUT_AGENT_USER` (images);
 * - `none`: nothing keeps them apart (the unsandboxed development mode).
 */
export const AGENT_ISOLATION_MODES = ["non-dumpable", "separate-user", "none"] as const;
export type AgentIsolationMode = (typeof AGENT_ISOLATION_MODES)[number];

/**
 * A model provider's `apiKey` meaning "the sandbox token": the bridge relays that provider's calls
 * and adds the token itself, so the key OpenCode is configured with is never the token.
 */
export const SANDBOX_TOKEN_API_KEY = "lookout-sandbox-token";

/**
 * The way out of a sandbox with its own network namespace: the gateway's relay socket, bound into
 * the sandbox, and the loopback port the bridge forwards to it. Every Lookout URL in such a sandbox
 * (control plane, the repository's git endpoint, the model proxy), and its HTTP(S) proxy, is this
 * port; the control plane accepts it as the host a local repository is served from.
 */
export const UPLINK = {
  socketPath: "/run/lookout/uplink.sock",
  port: 4480,
  url: "http://127.0.0.1:4480",
} as const;

/**
 * Every sandbox token starts with this, so a token that leaks into text is recognisable (the event
 * log's redactor hides it by pattern even when it does not know the value).
 */
export const SANDBOX_TOKEN_PREFIX = "lks_";

/**
 * Headers the model proxy and the bridge's model relay never pass on: those that describe one hop,
 * and the caller's own key, which each hop replaces with the next one's.
 */
export const MODEL_PROXY_DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "authorization",
  "x-api-key",
]);
/** Hop-by-hop headers of a model response, not passed back to the caller. */
export const MODEL_PROXY_DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "trailer",
]);

/** Names a user secret may not take, because the sandbox's own contract uses them. */
export const RESERVED_ENV_PREFIXES = ["LOOKOUT_"] as const;

/**
 * One model provider the bridge configures into OpenCode. For providers whose real key must not
 * enter the sandbox, `baseUrl` points at the gateway's model proxy and `apiKey` is
 * `SANDBOX_TOKEN_API_KEY` (or the sandbox token itself): the bridge relays those calls and adds the
 * token, so OpenCode never holds it.
 */
export const ModelProviderConfig = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/)
    .max(64),
  kind: z.enum(["anthropic", "openai", "openai-compatible"]),
  baseUrl: z.string().url().optional(),
  apiKey: z.string().min(1).optional(),
  models: z.array(z.string().min(1).max(200)).min(1),
});
export type ModelProviderConfig = z.infer<typeof ModelProviderConfig>;

export const ModelProviderConfigList = z.array(ModelProviderConfig);
