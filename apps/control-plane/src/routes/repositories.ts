import { type Context, Hono } from "hono";
import { Id, LookoutError, RepositoryInput, RepositoryUpdate } from "@lookout/protocol";
import { requireAdmin } from "../auth/middleware";
import { RepositoryStore, toRepositoryDto } from "../db/repositories";
import type { SecretScope } from "../db/secrets";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { GatewayGit } from "../scm/gateway-git";
import { deleteSecret, listSecrets, putSecret } from "./secrets";

/** Repositories and their own secrets, mounted at `/api/repositories`. Writes are admin-only. */
export const repositoriesRoutes = new Hono<AppEnv>();

repositoriesRoutes.get("/", async (c) => {
  const records = await new RepositoryStore(c.env.DB).list();
  return c.json({ repositories: records.map(toRepositoryDto) });
});

repositoriesRoutes.post("/", requireAdmin, async (c) => {
  const parsed = await readJson(c, RepositoryInput);
  // A local repository must be a git repository where the gateway allows them; it says which path.
  const input = parsed.kind === "local" ? { ...parsed, path: await GatewayGit.fromEnv(c.env).check(parsed.path) } : parsed;
  const record = await new RepositoryStore(c.env.DB).create(input);
  return c.json({ repository: toRepositoryDto(record) }, 201);
});

repositoriesRoutes.get("/:id", async (c) => {
  const record = await new RepositoryStore(c.env.DB).getOrThrow(repositoryId(c));
  return c.json({ repository: toRepositoryDto(record) });
});

repositoriesRoutes.patch("/:id", requireAdmin, async (c) => {
  const id = repositoryId(c);
  const patch = await readJson(c, RepositoryUpdate);
  const record = await new RepositoryStore(c.env.DB).update(id, patch);
  return c.json({ repository: toRepositoryDto(record) });
});

repositoriesRoutes.delete("/:id", requireAdmin, async (c) => {
  await new RepositoryStore(c.env.DB).remove(repositoryId(c));
  return c.body(null, 204);
});

repositoriesRoutes.get("/:id/secrets", async (c) => listSecrets(c, await repositoryScope(c)));

repositoriesRoutes.put("/:id/secrets/:name", requireAdmin, async (c) => putSecret(c, await repositoryScope(c), c.req.param("name")));

repositoriesRoutes.delete("/:id/secrets/:name", requireAdmin, async (c) => deleteSecret(c, await repositoryScope(c), c.req.param("name")));

/** The `:id` parameter; a malformed id cannot name a repository, so it is not found. */
function repositoryId(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!Id.safeParse(id).success) throw new LookoutError("REPOSITORY_NOT_FOUND", "Repository ids are letters, digits, '_' and '-'.");
  return id;
}

/** The secret scope of the repository in the path, which must exist. */
async function repositoryScope(c: Context<AppEnv>): Promise<SecretScope> {
  const record = await new RepositoryStore(c.env.DB).getOrThrow(repositoryId(c));
  return { kind: "repository", repositoryId: record.id };
}
