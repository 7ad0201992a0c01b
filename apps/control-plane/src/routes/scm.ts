import { Id, LookoutError } from "@lookout/protocol";
import { Hono } from "hono";
import { RepositoryStore } from "../db/repositories";
import type { AppEnv } from "../http/app-env";
import { githubClient } from "../scm/github/settings";
import { providerFor } from "../scm/providers";

/** `/api/scm`: what the source control providers can see (mounted after `requireAuth`). */
export const scmRoutes = new Hono<AppEnv>();

/** The repositories the GitHub App's installation can reach, marked when already registered. */
scmRoutes.get("/github/repositories", async (c) => {
  const [available, registered] = await Promise.all([githubClient(c.env).listRepositories(), new RepositoryStore(c.env.DB).list()]);
  const known = new Map(registered.filter((r) => r.kind === "github").map((r) => [r.fullName.toLowerCase(), r.id]));
  return c.json({
    repositories: available.map((r) => ({
      fullName: r.full_name,
      owner: r.owner.login,
      name: r.name,
      defaultBranch: r.default_branch ?? "main",
      private: r.private,
      repositoryId: known.get(r.full_name.toLowerCase()) ?? null,
    })),
  });
});

/** A registered repository's branches, from its provider (the gateway for local ones). */
scmRoutes.get("/repositories/:id/branches", async (c) => {
  const id = c.req.param("id");
  if (!Id.safeParse(id).success) throw new LookoutError("REPOSITORY_NOT_FOUND");
  const repository = await new RepositoryStore(c.env.DB).getOrThrow(id);
  return c.json({ branches: await providerFor(c.env, repository).listBranches(repository) });
});
