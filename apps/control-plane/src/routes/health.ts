import { Hono } from "hono";
import { LookoutError } from "@lookout/protocol";
import { version } from "../../package.json";
import type { AppEnv } from "../http/app-env";
import { log } from "../log";

/** `GET /api/health`: public, so the start command and load balancers can poll it without a session. */
export const healthRoutes = new Hono<AppEnv>();

healthRoutes.get("/", async (c) => {
  // A Worker that cannot reach D1 cannot authenticate anyone, so it is not healthy.
  try {
    await c.env.DB.prepare("SELECT 1").first();
  } catch (error) {
    log.error("health check: D1 is unreachable", { error });
    throw new LookoutError("INTERNAL", "The database (D1) is unreachable.");
  }
  return c.json({ ok: true as const, version });
});
