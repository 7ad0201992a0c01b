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
