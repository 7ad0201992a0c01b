import { type GithubTriggerSettingsResponse, LookoutError, PutGithubTriggerSettingsRequest } from "@lookout/protocol";
import { type Context, Hono } from "hono";
import { requireAdmin } from "../auth/middleware";
import { GithubTriggerStore } from "../db/github-triggers";
import { type RepositoryRecord, RepositoryStore } from "../db/repositories";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";

/**
 * GitHub pull request @mention settings per repository, mounted at `/api/github-triggers` behind
 * `requireAuth`: who may trigger besides people with write access, where commits go, auto-review.
 * Anyone signed in may read them; changing them is admin-only, like the repository itself.
 */
export const githubTriggerRoutes = new Hono<AppEnv>();

githubTriggerRoutes.get("/:repositoryId", async (c) => {
  const repository = await githubRepository(c);
  const { settings, saved } = await new GithubTriggerStore(c.env.DB).settings(repository.id);
  return c.json<GithubTriggerSettingsResponse>({ repositoryId: repository.id, repository: repository.fullName, settings, saved });
});

githubTriggerRoutes.put("/:repositoryId", requireAdmin, async (c) => {
  const repository = await githubRepository(c);
  const settings = await readJson(c, PutGithubTriggerSettingsRequest);
  const store = new GithubTriggerStore(c.env.DB);
  await store.saveSettings(repository.id, settings, Date.now());
  return c.json<GithubTriggerSettingsResponse>({ repositoryId: repository.id, repository: repository.fullName, settings, saved: true });
});

async function githubRepository(c: Context<AppEnv>): Promise<RepositoryRecord> {
  const repository = await new RepositoryStore(c.env.DB).get(c.req.param("repositoryId") ?? "");
  if (!repository) throw new LookoutError("REPOSITORY_NOT_FOUND");
  if (repository.kind !== "github")
    throw new LookoutError(
      "VALIDATION_FAILED",
      `${repository.fullName} is a local repository; GitHub mention settings apply to GitHub repositories only.`,
    );
  return repository;
}
