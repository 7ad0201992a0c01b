import { LookoutError, type RepositoryImage, type RepositoryImagesResponse } from "@lookout/protocol";
import { type Context, Hono } from "hono";
import { requireAdmin } from "../auth/middleware";
import { type RepositoryRecord, RepositoryStore } from "../db/repositories";
import type { AppEnv } from "../http/app-env";
import { IMAGE_REBUILD_INTERVAL_MS, type ImageSource, imageDeps, RepositoryImageStore, startImageBuild } from "../repository-images";
import { wakeScheduler } from "../triggers/scheduler-object";

/** Builds listed per repository, newest first. */
const HISTORY_LIMIT = 20;

/**
 * Repository images (ADR 0015), mounted at `/api/repositories` behind `requireAuth`, for admins
 * only: `GET /:id/images` the build history (ready, building, failed with the setup script's
 * output, superseded), `POST /:id/images` build now. Scheduled rebuilds need no call.
 */
export const repositoryImageRoutes = new Hono<AppEnv>();

repositoryImageRoutes.get("/:repositoryId/images", requireAdmin, async (c) => {
  const repository = await repositoryOf(c);
  const images = await new RepositoryImageStore(c.env.DB).list(repository.id, HISTORY_LIMIT);
  return c.json<RepositoryImagesResponse>({ images, rebuildIntervalMs: IMAGE_REBUILD_INTERVAL_MS });
});

repositoryImageRoutes.post("/:repositoryId/images", requireAdmin, async (c) => {
  const repository = await repositoryOf(c);
  const source: ImageSource =
    repository.kind === "local" && repository.path
      ? { kind: "local", path: repository.path }
      : { kind: "github", owner: repository.owner ?? "", name: repository.name };
  const principal = c.get("principal");
  const by = principal.kind === "user" ? principal.user.id : principal.kind;
  const now = Date.now();
  const image = await startImageBuild(
    imageDeps(c.env),
    { repositoryId: repository.id, source, baseBranch: repository.defaultBranch },
    { trigger: "admin", requestedBy: by },
    now,
  );
  // The scheduler follows the build from here.
  if (image.status === "building") await wakeScheduler(c.env, now);
  return c.json<RepositoryImage>(image, 202);
});

async function repositoryOf(c: Context<AppEnv>): Promise<RepositoryRecord> {
  const repository = await new RepositoryStore(c.env.DB).get(c.req.param("repositoryId") ?? "");
  if (!repository) throw new LookoutError("REPOSITORY_NOT_FOUND");
  return repository;
}
