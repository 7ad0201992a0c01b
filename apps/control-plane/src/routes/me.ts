import { Hono } from "hono";
import type { z } from "zod";
import { LookoutError, type Me } from "@lookout/protocol";
import { authorOf, type Principal } from "../auth/principal";
import type { AppEnv } from "../http/app-env";

export type MeResponse = z.infer<typeof Me>;

/**
 * Who the caller is, for the dashboard's header and permission checks. A service acting for a user
 * is that user with member rights; a service acting for nobody has no profile.
 */
export function meOf(principal: Principal): MeResponse {
  if (principal.kind === "user") return { user: authorOf(principal.user), role: principal.user.role };
  if (principal.actor) return { user: principal.actor, role: "member" };
  throw new LookoutError("FORBIDDEN", `Service "${principal.service}" is not acting for a user, so it has no profile.`);
}

/** `GET /api/me`, mounted after `requireAuth`. */
export const meRoutes = new Hono<AppEnv>();

meRoutes.get("/", (c) => c.json(meOf(c.get("principal"))));
