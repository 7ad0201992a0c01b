import { LookoutError, PutSandboxPoolSizeRequest, type SandboxPoolResponse } from "@lookout/protocol";
import { Hono } from "hono";
import { requireAdmin } from "../auth/middleware";
import { RepositoryStore } from "../db/repositories";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { log } from "../log";
import { SandboxPoolStore } from "../sandbox-pool/store";
import { pushPoolTargets, sandboxPoolOverview } from "../sandbox-pool/targets";

/**
 * The warm pool (ADR 0012), mounted at `/api/sandbox-pool` behind `requireAuth`, for admins only:
 * `GET /` each repository's pool (size, warm, starting, refreshing, claimed, a failure with the
 * setup script's output) and the cap on running sandboxes; `PUT /repositories/:id` a repository's
 * size (null: the default rule), pushed to the gateway at once.
 */
export const sandboxPoolRoutes = new Hono<AppEnv>();

sandboxPoolRoutes.get("/", requireAdmin, async (c) => c.json<SandboxPoolResponse>(await sandboxPoolOverview(c.env, Date.now())));

sandboxPoolRoutes.put("/repositories/:repositoryId", requireAdmin, async (c) => {
  const repository = await new RepositoryStore(c.env.DB).get(c.req.param("repositoryId"));
  if (!repository) throw new LookoutError("REPOSITORY_NOT_FOUND");
  const { size } = await readJson(c, PutSandboxPoolSizeRequest);
  const principal = c.get("principal");
  const by = principal.kind === "user" ? principal.user.id : principal.kind;
  await new SandboxPoolStore(c.env.DB).setSize(repository.id, size, by, Date.now());
  // The gateway hears of it now; if it cannot be reached the scheduler's next push carries it.
  await pushPoolTargets(c.env, Date.now()).catch((error: unknown) => log.warn("pool targets not pushed", { error }));
  return c.json<SandboxPoolResponse>(await sandboxPoolOverview(c.env, Date.now()));
});
