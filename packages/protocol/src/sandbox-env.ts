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
   * The sandbox's one way out when it has its own network namespace: a Unix socket to the
   * gateway's per-sandbox relay. The bridge forwards `127.0.0.1:<LOOKOUT_UPLINK_PORT>` inside the
   * sandbox to it; every Lookout URL in the sandbox and its HTTP(S) proxy point at that port.
   */
  uplinkSocket: "LOOKOUT_UPLINK_SOCKET",
  uplinkPort: "LOOKOUT_UPLINK_PORT",
} as const;

/** Names a user secret may not take, because the sandbox's own contract uses them. */
export const RESERVED_ENV_PREFIXES = ["LOOKOUT_"] as const;

/**
 * One model provider the bridge configures into OpenCode. For providers whose real key must not
 * enter the sandbox, `baseUrl` points at the gateway's model proxy and `apiKey` is the sandbox token.
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
