import { LookoutError, PoolTargetsRequest, summarizeIssues } from "@lookout/protocol";
import { Hono } from "hono";
import { type GatewayEnv, jsonResponse } from "../http";
import type { WarmPool } from "./pool";

/**
 * `/v1/pool` (signed, behind the service check like the rest of `/v1`): `GET` the pool's state per
 * repository with the cap, `PUT /targets` the control plane's wish list (replacing the last one).
 */
export function poolRoutes(pool: () => WarmPool): Hono<GatewayEnv> {
  return new Hono<GatewayEnv>()
    .get("/", async () => jsonResponse(200, await pool().state()))
    .put("/targets", (c) => {
      let data: unknown;
      try {
        data = JSON.parse(new TextDecoder().decode(c.var.body));
      } catch {
        throw new LookoutError("INVALID_JSON");
      }
      const parsed = PoolTargetsRequest.safeParse(data);
      if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", summarizeIssues(parsed.error));
      const keys = parsed.data.targets.map((target) => target.repositoryKey);
      if (new Set(keys).size !== keys.length)
        throw new LookoutError("VALIDATION_FAILED", "Each repository may be named once in the pool's targets.");
      pool().setTargets(parsed.data);
      return jsonResponse(200, { ok: true, targets: parsed.data.targets.length });
    });
}
