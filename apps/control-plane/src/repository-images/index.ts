import type { Env } from "../env";
import type { ImageDeps } from "./builds";
import { githubCloneUrl, readOnlyGitCredential } from "../scm/github/settings";
import { HttpImageGateway } from "./gateway";

/**
 * Repository images (ADR 0015): builds recorded in D1 (`store.ts`), run by the gateway
 * (`gateway.ts`), scheduled every 30 minutes for active repositories from the scheduler's alarm
 * (`builds.ts` `imageTick`). Sessions and the warm pool start from `newestRepositoryImage`;
 * superseded images' snapshots are deleted from the provider (`retired-snapshots.ts`).
 */
export { IMAGE_REBUILD_INTERVAL_MS, imageTick, startImageBuild, followImageBuilds, type ImageDeps, type ImageTickSummary } from "./builds";
export { HttpImageGateway, type ImageGateway } from "./gateway";
export { deleteRetiredSnapshots, SNAPSHOT_DELETE_DELAY_MS } from "./retired-snapshots";
export { newestRepositoryImage, RepositoryImageStore, type ImageSource, type ReadyImage, type RetiredSnapshot } from "./store";

/** The image builds' dependencies from the Worker's environment. */
export function imageDeps(env: Env): ImageDeps {
  return {
    db: env.DB,
    gateway: HttpImageGateway.fromEnv(env),
    controlPlaneUrl: env.PUBLIC_URL,
    cloneSource: async (source) => {
      if (source.kind === "local") return { repository: { kind: "local", path: source.path } };
      // Read-only: the build sandbox runs the repository's setup script, which must not be able to push.
      return {
        repository: { kind: "remote", cloneUrl: githubCloneUrl(env, `${source.owner}/${source.name}`) },
        gitCredential: await readOnlyGitCredential(env, source.name),
      };
    },
  };
}
