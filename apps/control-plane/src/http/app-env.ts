import type { Principal } from "../auth/principal";
import type { Env } from "../env";

/** Hono's environment for every route: the Worker bindings and the authenticated principal. */
export interface AppEnv {
  Bindings: Env;
  Variables: { principal: Principal };
}
