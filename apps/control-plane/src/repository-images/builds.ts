import {
  type CreateSandboxRequest,
  type GitCredentialResponse,
  type ImageBuildState,
  LookoutError,
  type RepositoryImage,
} from "@lookout/protocol";
import { newId } from "../session/ids";
import { log } from "../log";
import type { ImageGateway } from "./gateway";
import { deleteRetiredSnapshots } from "./retired-snapshots";
import { type ImageSource, RepositoryImageStore } from "./store";

/** An active repository's image is rebuilt this often. */
export const IMAGE_REBUILD_INTERVAL_MS = 30 * 60_000;
/** A repository counts as active while a session used it this recently. */
export const IMAGE_ACTIVE_WINDOW_MS = 24 * 3600_000;
/** Ready images kept per repository; older ones are superseded, and their snapshots deleted from the provider. */
export const IMAGES_KEPT = 2;
/** While a build runs, the scheduler asks the gateway about it this often. */
export const IMAGE_FOLLOW_INTERVAL_MS = 5_000;
/** A build still running after this long is recorded as failed (the gateway bounds its own builds well within it). */
export const IMAGE_BUILD_MAX_MS = 30 * 60_000;

export interface ImageDeps {
  readonly db: D1Database;
  readonly gateway: ImageGateway;
  /** The control plane as the gateway and its sandboxes reach it. */
  readonly controlPlaneUrl: string;
  /**
   * What the build sandbox clones: a local repository's path, or a GitHub repository's clone URL
   * with a short-lived read-only installation token (fetch, never push). Throws when no
   * credential can be had (the App is not configured or not installed there).
   */
  readonly cloneSource: (
    source: ImageSource,
  ) => Promise<{ repository: CreateSandboxRequest["repository"]; gitCredential?: GitCredentialResponse }>;
}

/**
 * Starts one build of a repository's image: recorded as `building`, then handed to the gateway. A
 * build that cannot start (no read-only credential for a GitHub repository; a gateway at its cap
 * or unreachable) fails at once, with its reason, so the history shows it.
 */
export async function startImageBuild(
  deps: ImageDeps,
  repository: { repositoryId: string; source: ImageSource; baseBranch: string },
  origin: { trigger: RepositoryImage["trigger"]; requestedBy: string | null },
  now: number,
): Promise<RepositoryImage> {
  const store = new RepositoryImageStore(deps.db);
  if (await store.isBuilding(repository.repositoryId)) {
    throw new LookoutError("CONFLICT", "An image of this repository is being built already; wait for it to finish.");
  }
  const id = newId("img", now);
  await store.start({ id, repositoryId: repository.repositoryId, baseBranch: repository.baseBranch, ...origin, now });
  try {
    const clone = await deps.cloneSource(repository.source);
    const state = await deps.gateway.start({
      buildId: id,
      repository: clone.repository,
      ...(clone.gitCredential ? { gitCredential: clone.gitCredential } : {}),
      baseBranch: repository.baseBranch,
      controlPlaneUrl: deps.controlPlaneUrl,
    });
    await settle(store, id, state, repository, now);
  } catch (error) {
    const message = error instanceof LookoutError ? error.message : String(error);
    log.warn("image build not started", { imageId: id, error: message });
    await store.finish(id, { status: "failed", error: `The gateway did not start the build: ${message}`.slice(0, 2_000), now });
  }
  const recorded = await store.get(id);
  if (!recorded) throw new LookoutError("INTERNAL", "The image build's row is gone.");
  return recorded;
}

/** Records a finished gateway state (a running one changes nothing); a ready image supersedes older ones. */
async function settle(
  store: RepositoryImageStore,
  id: string,
  state: ImageBuildState,
  repository: { repositoryId: string; baseBranch: string },
  now: number,
): Promise<void> {
  if (state.status === "building") return;
  const finished = await store.finish(id, {
    status: state.status,
    ...(state.baseSha ? { baseSha: state.baseSha } : {}),
    ...(state.snapshotId ? { snapshotId: state.snapshotId } : {}),
    ...(state.error ? { error: state.error } : {}),
    ...(state.output ? { output: state.output } : {}),
    now,
  });
  if (finished && state.status === "ready") {
    const superseded = await store.supersede(repository.repositoryId, repository.baseBranch, IMAGES_KEPT, now);
    if (superseded.length > 0) log.info("older images superseded", { repositoryId: repository.repositoryId, superseded });
  }
}

/** Asks the gateway about every running build and records the ones that ended; returns how many still run. */
export async function followImageBuilds(deps: ImageDeps, now: number): Promise<number> {
  const store = new RepositoryImageStore(deps.db);
  let running = 0;
  for (const build of await store.building()) {
    if (now - build.startedAt > IMAGE_BUILD_MAX_MS) {
      await store.finish(build.id, {
        status: "failed",
        error: `The build did not finish within ${IMAGE_BUILD_MAX_MS / 60_000} minutes.`,
        now,
      });
      continue;
    }
    let state: ImageBuildState | null;
    try {
      state = await deps.gateway.get(build.id);
    } catch (error) {
      // The gateway is unreachable for now: asked again on the next wake.
      log.warn("image build state not read", { imageId: build.id, error: String(error) });
      running++;
      continue;
    }
    if (state === null) {
      await store.finish(build.id, {
        status: "failed",
        error: "The gateway no longer knows this build (it restarted while building).",
        now,
      });
      continue;
    }
    await settle(store, build.id, state, build, now);
    if (state.status === "building") running++;
  }
  return running;
}

export interface ImageTickSummary {
  started: RepositoryImage[];
  running: number;
  /** When the image schedule next needs a wake, or null. */
  nextWakeAt: number | null;
}

/**
 * One wake of the image schedule (from the `TriggerScheduler` alarm, so it runs under `wrangler
 * dev` too): follows running builds, starts a build for each active repository (local or GitHub) whose last
 * build started 30 minutes ago or more (when the gateway's provider can snapshot at all), deletes
 * superseded images' snapshots from the provider (`deleteRetiredSnapshots`), and says when to wake
 * next — soon while builds run, else when the next active repository or deletion falls due.
 */
export async function imageTick(deps: ImageDeps, now: number): Promise<ImageTickSummary> {
  const store = new RepositoryImageStore(deps.db);
  let running = await followImageBuilds(deps, now);
  const deletions = await deleteRetiredSnapshots(deps, now);
  const started: RepositoryImage[] = [];
  const due = await store.due(now - IMAGE_ACTIVE_WINDOW_MS, now - IMAGE_REBUILD_INTERVAL_MS + 1);
  // A gateway whose provider cannot snapshot builds nothing, and nothing is recorded for it.
  if (due.length > 0 && !(await deps.gateway.available())) {
    return { started, running, nextWakeAt: earliest(running > 0 ? now + IMAGE_FOLLOW_INTERVAL_MS : null, deletions) };
  }
  for (const repository of due) {
    const build = await startImageBuild(deps, repository, { trigger: "schedule", requestedBy: null }, now);
    started.push(build);
    if (build.status === "building") running++;
  }
  const nextDue = await store.nextDueAt(now - IMAGE_ACTIVE_WINDOW_MS, IMAGE_REBUILD_INTERVAL_MS);
  const follow = running > 0 ? now + IMAGE_FOLLOW_INTERVAL_MS : null;
  return { started, running, nextWakeAt: earliest(follow, nextDue === null ? null : Math.max(nextDue, now + 1), deletions) };
}

/** The earliest of the wakes asked for, or null when none is. */
function earliest(...wakes: (number | null)[]): number | null {
  const at = wakes.filter((wake): wake is number => wake !== null);
  return at.length > 0 ? Math.min(...at) : null;
}
