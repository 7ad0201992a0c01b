import { z } from "zod";
import { BranchName } from "./rest.ts";
import { Id, ModelRef } from "./common.ts";

/**
 * The sandbox gateway's HTTP API (`/v1/*`), called by the control plane with signed requests
 * (service `control-plane`, see `service-auth.ts`). Every non-2xx answer is an `ErrorBody`
 * (`errors.ts`): its code is a registry code, so callers parse it rather than trust a string.
 */

export const SandboxRepository = z.discriminatedUnion("kind", [
  /** A repository on the gateway's host; the gateway serves it to the sandbox over git HTTP. */
  z.object({ kind: z.literal("local"), path: z.string().startsWith("/") }),
  /** A repository the bridge clones over HTTPS (credentials come from the git credential helper). */
  z.object({ kind: z.literal("remote"), cloneUrl: z.string().url() }),
]);

export const CreateSandboxRequest = z.object({
  sessionId: Id,
  sandboxId: Id,
  /** The per-sandbox token the bridge authenticates with; the control plane stores only its hash. */
  sandboxToken: z.string().min(32).max(256),
  controlPlaneUrl: z.string().url(),
  repository: SandboxRepository,
  baseBranch: BranchName,
  branch: BranchName,
  model: ModelRef,
  /** Restore the work directory from this snapshot instead of starting fresh. */
  snapshotId: z.string().min(1).max(512).optional(),
  /**
   * `snapshotId` is the repository's image (ADR 0015), not the session's own work: a warm-pool
   * sandbox of the same repository and base branch serves the session as well, and sooner.
   */
  fromImage: z.boolean().optional(),
  /** The session may not push (`isReadOnlyOrigin`): its bridge commits in the sandbox and pushes nothing. */
  readOnly: z.boolean().optional(),
  /** User secrets, injected as environment variables. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
  timeoutMs: z
    .number()
    .int()
    .positive()
    .max(24 * 3600_000)
    .default(2 * 3600_000),
});
export type CreateSandboxRequest = z.infer<typeof CreateSandboxRequest>;

export const SandboxInfo = z.object({
  sandboxId: Id,
  provider: z.string(),
  providerId: z.string(),
  status: z.enum(["starting", "running", "stopped", "failed", "unknown"]),
  /** Taking a snapshot stops this sandbox (Vercel), so the session snapshots it only when stopping it. */
  snapshotStopsSandbox: z.boolean().default(false),
  /** The snapshot this sandbox was created from; absent for a sandbox started from the image. */
  restoredFrom: z.string().optional(),
  /** The sandbox came from the warm pool: cloned, set up and with OpenCode running before the create. */
  warm: z.boolean().optional(),
});
export type SandboxInfo = z.infer<typeof SandboxInfo>;

export const SnapshotResponse = z.object({ snapshotId: z.string() });

/** `GET /v1/capacity`: sandboxes running now (creates in flight included) against the gateway's cap. */
export const SandboxCapacity = z.object({
  running: z.number().int().nonnegative(),
  /** `LOOKOUT_MAX_RUNNING_SANDBOXES`: no create takes `running` past it. */
  max: z.number().int().positive(),
});
export type SandboxCapacity = z.infer<typeof SandboxCapacity>;

export const ProviderCapabilities = z.object({
  provider: z.string(),
  snapshots: z.boolean(),
  restore: z.boolean(),
  timeouts: z.boolean(),
});

/** Longest system text `POST /v1/model/complete` takes. */
export const MAX_COMPLETION_SYSTEM_CHARS = 8_000;
/** Longest user text `POST /v1/model/complete` takes: a message and a list of repositories, not a conversation. */
export const MAX_COMPLETION_USER_CHARS = 32_000;
/** Most tokens one completion may ask for: the route answers small questions, not agent turns. */
export const MAX_COMPLETION_TOKENS = 1_024;
/** Longest answer the route returns; anything longer is cut. */
export const MAX_COMPLETION_ANSWER_CHARS = 16_000;

/**
 * `POST /v1/model/complete`: one short, non-streamed completion for the control plane (classifying a
 * request, say). The gateway chooses the model (its small model) and holds the key, so the control
 * plane never sees one.
 */
export const ModelCompleteRequest = z.strictObject({
  system: z.string().min(1).max(MAX_COMPLETION_SYSTEM_CHARS),
  user: z.string().min(1).max(MAX_COMPLETION_USER_CHARS),
  maxTokens: z.number().int().positive().max(MAX_COMPLETION_TOKENS),
});
export type ModelCompleteRequest = z.infer<typeof ModelCompleteRequest>;

export const ModelCompleteResponse = z.object({
  /** The model's answer, as text. */
  text: z.string().max(MAX_COMPLETION_ANSWER_CHARS),
  /** The model that answered (`provider/model`). */
  model: ModelRef,
});
export type ModelCompleteResponse = z.infer<typeof ModelCompleteResponse>;

/**
 * The warm pool (ADR 0012): per repository, sandboxes that already hold the repository at its base
 * branch, ran its setup script and started OpenCode, waiting for a session to claim them.
 */

/** One repository the control plane wants sandboxes kept warm for. */
export const PoolTarget = z.object({
  /** The control plane's repository id. */
  repositoryKey: Id,
  repository: SandboxRepository,
  baseBranch: BranchName,
  /** How many unclaimed warm sandboxes to keep (0 keeps none). */
  size: z.number().int().min(0).max(16),
  /** When a session last used the repository; an idle-stopped pool refills only after newer use. */
  lastUsedAtMs: z.number().int().nonnegative().optional(),
  /**
   * For a remote repository: a short-lived read-only credential (a GitHub installation token that
   * can fetch and never push) the pool's clone uses; without one a remote repository is not pooled.
   */
  gitCredential: z.object({ username: z.string().min(1), password: z.string().min(1), expiresAt: z.number().int().positive() }).optional(),
  /**
   * The repository's newest ready image (a provider snapshot, ADR 0015): pool sandboxes start from
   * it and only catch up with the base branch, instead of cloning and setting up from nothing.
   */
  imageSnapshotId: z.string().min(1).max(256).optional(),
});
export type PoolTarget = z.infer<typeof PoolTarget>;

/** `PUT /v1/pool/targets`: the whole wish list, replacing the previous one. */
export const PoolTargetsRequest = z.object({
  /** The control plane as the gateway and its sandboxes reach it (as in `CreateSandboxRequest`). */
  controlPlaneUrl: z.string().url(),
  targets: z.array(PoolTarget).max(500),
});
export type PoolTargetsRequest = z.infer<typeof PoolTargetsRequest>;

/** What one pool sandbox is doing. */
export const POOL_ENTRY_STATES = ["starting", "warm", "refreshing"] as const;

export const PoolEntry = z.object({
  sandboxId: Id,
  state: z.enum(POOL_ENTRY_STATES),
  /** Where its bridge is: `cloning`, `setup`, `opencode`, `warm`. */
  phase: z.string().max(40),
  sinceMs: z.number().int(),
  /** The base branch's commit the sandbox holds, once cloned. */
  baseHead: z.string().max(64).optional(),
  setupDurationMs: z.number().int().nonnegative().optional(),
});
export type PoolEntry = z.infer<typeof PoolEntry>;

/** Why a repository's pool is not filling, shown with the setup script's output when that is the cause. */
export const PoolFailure = z.object({
  atMs: z.number().int(),
  message: z.string().max(2_000),
  /** The tail of the setup script's output (stdout and stderr interleaved). */
  output: z.string().max(16_000).optional(),
  /** No new pool sandbox is started for this repository before then. */
  retryAtMs: z.number().int(),
});
export type PoolFailure = z.infer<typeof PoolFailure>;

export const PoolRepositoryState = z.object({
  repositoryKey: Id,
  repository: SandboxRepository,
  baseBranch: BranchName,
  size: z.number().int().nonnegative(),
  warm: z.number().int().nonnegative(),
  starting: z.number().int().nonnegative(),
  refreshing: z.number().int().nonnegative(),
  /** Sandboxes sessions claimed from this repository's pool since the gateway started. */
  claimed: z.number().int().nonnegative(),
  /** Why the pool holds fewer than `size` and is not making more, if it is not. */
  held: z.enum(["failed", "idle", "capacity", "unsupported", "disabled"]).optional(),
  failure: PoolFailure.optional(),
  entries: z.array(PoolEntry),
});
export type PoolRepositoryState = z.infer<typeof PoolRepositoryState>;

/** `GET /v1/pool`: every repository's pool, and the cap they share with sessions. */
export const PoolState = z.object({
  repositories: z.array(PoolRepositoryState),
  capacity: SandboxCapacity,
  /** Warm sandboxes unclaimed this long are stopped (`LOOKOUT_POOL_IDLE_MS`). */
  idleLimitMs: z.number().int().positive(),
});
export type PoolState = z.infer<typeof PoolState>;

/**
 * What a claim hands a waiting pool bridge (over its pool channel, never in an environment): the
 * session's values, the sandbox token among them.
 */
export const PoolClaim = z.object({
  sessionId: Id,
  sandboxId: Id,
  sandboxToken: z.string().min(32).max(256),
  /** The control plane as this sandbox reaches it (its uplink's URL for sandboxes behind a relay). */
  controlPlaneUrl: z.string().url(),
  /** The session's repository URL (a local repository's is the gateway's `/git/<session>.git`). */
  repoUrl: z.string().min(1),
  baseBranch: BranchName,
  branch: BranchName,
  model: ModelRef,
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()),
  /** The session may not push (as `CreateSandboxRequest.readOnly`). */
  readOnly: z.boolean().optional(),
  /**
   * The base branch has not moved since the sandbox cloned it and the session branch does not exist
   * yet: the bridge creates the branch and starts without syncing with the remote.
   */
  upToDate: z.boolean().optional(),
});
export type PoolClaim = z.infer<typeof PoolClaim>;

/** What a pool bridge reports about its preparation (`POST <pool url>/report`). */
export const PoolBridgeReport = z.discriminatedUnion("phase", [
  z.object({ phase: z.enum(["cloning", "setup", "opencode"]) }),
  z.object({
    phase: z.literal("warm"),
    baseHead: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/),
    setupDurationMs: z.number().int().nonnegative().optional(),
  }),
  z.object({
    phase: z.literal("failed"),
    message: z.string().max(2_000),
    output: z.string().max(16_000).optional(),
  }),
]);
export type PoolBridgeReport = z.infer<typeof PoolBridgeReport>;

/** The largest pool an admin may set for one repository. */
export const MAX_POOL_SIZE = 16;

/** `PUT /api/sandbox-pool/repositories/:id`: a repository's pool size, or null for the default rule. */
export const PutSandboxPoolSizeRequest = z.object({ size: z.number().int().min(0).max(MAX_POOL_SIZE).nullable() });
export type PutSandboxPoolSizeRequest = z.infer<typeof PutSandboxPoolSizeRequest>;

/** One repository in `GET /api/sandbox-pool`: what the control plane asks for and what the gateway holds. */
export const SandboxPoolRepository = z.object({
  repositoryId: Id,
  repository: z.string(),
  /** The size the gateway is asked to keep. */
  size: z.number().int().nonnegative(),
  /** An admin's setting; null when the default rule (1 if used in the last day, else 0) applies. */
  configuredSize: z.number().int().nonnegative().nullable(),
  /** When a session last used it, within the last day; null if none did. */
  lastUsedAtMs: z.number().int().nullable(),
  /** The gateway's view; absent when the gateway keeps no pool for it or could not be asked. */
  pool: PoolRepositoryState.optional(),
});
export type SandboxPoolRepository = z.infer<typeof SandboxPoolRepository>;

/** `GET /api/sandbox-pool`: every repository's pool and the cap on running sandboxes. */
export const SandboxPoolResponse = z.object({
  repositories: z.array(SandboxPoolRepository),
  /** Running sandboxes (pool and sessions) against the cap; null when the gateway could not be asked. */
  capacity: SandboxCapacity.nullable(),
  idleLimitMs: z.number().int().positive().nullable(),
  /** Why the gateway's state is missing, when it is. */
  gatewayError: z.string().optional(),
});
export type SandboxPoolResponse = z.infer<typeof SandboxPoolResponse>;
