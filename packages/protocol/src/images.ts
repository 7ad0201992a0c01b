import { z } from "zod";
import { CommitSha, Id } from "./common.ts";
import { SandboxRepository } from "./gateway.ts";
import { BranchName } from "./rest.ts";
import { GitCredentialResponse } from "./scm.ts";

/**
 * Repository images (ADR 0015): per repository, a snapshot of a sandbox that cloned the base
 * branch's head and ran the repository's setup script, so a new session's sandbox starts with the
 * repository and its dependencies already there and only catches up with the newest commits.
 */

/** Most characters of a setup script's output kept with a build. */
export const MAX_IMAGE_OUTPUT_CHARS = 16_000;

/** `POST /v1/images/builds` (gateway): start building an image; answered at once (202) with its state. */
export const ImageBuildRequest = z.object({
  buildId: Id,
  repository: SandboxRepository,
  baseBranch: BranchName,
  /** The control plane as the gateway and its sandboxes reach it (as in `CreateSandboxRequest`). */
  controlPlaneUrl: z.string().url(),
  /**
   * For a remote repository: a short-lived read-only credential (a GitHub installation token that
   * can fetch and never push) for the build's clone; a remote repository is not built without one.
   */
  gitCredential: GitCredentialResponse.optional(),
  /** How long the setup script may run. */
  setupTimeoutMs: z
    .number()
    .int()
    .positive()
    .max(60 * 60_000)
    .optional(),
});
export type ImageBuildRequest = z.infer<typeof ImageBuildRequest>;

export const IMAGE_BUILD_STATUSES = ["building", "ready", "failed"] as const;
export const ImageBuildStatus = z.enum(IMAGE_BUILD_STATUSES);
export type ImageBuildStatus = z.infer<typeof ImageBuildStatus>;

/** A build as the gateway knows it (`GET /v1/images/builds/:buildId`). */
export const ImageBuildState = z.object({
  buildId: Id,
  status: ImageBuildStatus,
  /** The base branch's commit the image holds. */
  baseSha: CommitSha.optional(),
  /** The provider's snapshot id, once `ready`: a session's sandbox starts from it. */
  snapshotId: z.string().min(1).max(256).optional(),
  startedAtMs: z.number().int().nonnegative(),
  finishedAtMs: z.number().int().nonnegative().optional(),
  /** Why it failed, in a sentence. */
  error: z.string().max(2_000).optional(),
  /** The tail of the setup script's output. */
  output: z.string().max(MAX_IMAGE_OUTPUT_CHARS).optional(),
});
export type ImageBuildState = z.infer<typeof ImageBuildState>;

/** What a build sandbox's bridge reports on its channel (`<gateway>/image-build/<sandbox id>/report`). */
export const ImageBuildReport = z.discriminatedUnion("outcome", [
  z.object({
    outcome: z.literal("prepared"),
    baseSha: CommitSha,
    /** `absent` when the repository has no setup script. */
    setup: z.enum(["succeeded", "absent"]),
    setupDurationMs: z.number().int().nonnegative().optional(),
    output: z.string().max(MAX_IMAGE_OUTPUT_CHARS).optional(),
  }),
  z.object({
    outcome: z.literal("failed"),
    message: z.string().max(2_000),
    output: z.string().max(MAX_IMAGE_OUTPUT_CHARS).optional(),
  }),
]);
export type ImageBuildReport = z.infer<typeof ImageBuildReport>;

/** A build in the control plane's history: `superseded` once newer images replaced it. */
export const REPOSITORY_IMAGE_STATUSES = ["building", "ready", "failed", "superseded"] as const;

/** One build of a repository's image (`GET /api/repositories/:id/images`). */
export const RepositoryImage = z.object({
  id: Id,
  repositoryId: Id,
  baseBranch: z.string(),
  baseSha: z.string().nullable(),
  snapshotId: z.string().nullable(),
  status: z.enum(REPOSITORY_IMAGE_STATUSES),
  /** `schedule`: the 30-minute rebuild of an active repository; `admin`: someone asked to build now. */
  trigger: z.enum(["schedule", "admin"]),
  requestedBy: z.string().nullable(),
  startedAt: z.number(),
  finishedAt: z.number().nullable(),
  durationMs: z.number().nullable(),
  error: z.string().nullable(),
  /** The tail of the setup script's output. */
  output: z.string().nullable(),
  /** When a superseded image's snapshot was deleted from the sandbox provider (absent until then). */
  snapshotDeletedAt: z.number().optional(),
});
export type RepositoryImage = z.infer<typeof RepositoryImage>;

export const RepositoryImagesResponse = z.object({
  images: z.array(RepositoryImage),
  /** How often an active repository's image is rebuilt. */
  rebuildIntervalMs: z.number(),
});
export type RepositoryImagesResponse = z.infer<typeof RepositoryImagesResponse>;
