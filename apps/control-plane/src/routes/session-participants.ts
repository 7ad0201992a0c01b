import { LookoutError, SetParticipantRoleRequest } from "@lookout/protocol";
import { Hono } from "hono";
import { authorOf } from "../auth/principal";
import { UserStore } from "../db/users";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { unwrap } from "../session/rpc";
import { actingAuthor, sessionStub } from "./session-access";

/**
 * `PUT /api/sessions/:id/participants/:userId`: the session's owner lets someone steer it
 * (`member`) or only watch it (`viewer`). The session checks the caller's role itself.
 */
export const sessionParticipantRoutes = new Hono<AppEnv>();

sessionParticipantRoutes.put("/:id/participants/:userId", async (c) => {
  const input = await readJson(c, SetParticipantRoleRequest);
  const stub = await sessionStub(c.env, c.req.param("id"));
  const user = await new UserStore(c.env.DB).get(c.req.param("userId"));
  if (!user) throw new LookoutError("USER_NOT_FOUND");
  const participants = await unwrap(stub.setRole(actingAuthor(c.get("principal")), authorOf(user), input.role));
  return c.json({ participants: participants.map((p) => ({ participant: p.author, role: p.role, joinedAt: p.joinedAt })) });
});
