import { type Author, LookoutError } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { authorOf, type Principal } from "../auth/principal";
import { SessionIndexStore } from "../db/sessions-index";
import type { Env } from "../env";
import type { SessionAgent } from "../session/session-agent";

/** The person an action is attributed to: the user, or the user a service acts for. */
export function actingAuthor(principal: Principal): Author {
  if (principal.kind === "user") return authorOf(principal.user);
  return principal.actor ?? { userId: `service-${principal.service}`, name: principal.service };
}

/**
 * The session's Durable Object, after checking the D1 index that it exists, so a request for an
 * unknown id never creates an empty object.
 */
export async function sessionStub(env: Env, sessionId: string): Promise<DurableObjectStub<SessionAgent>> {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(sessionId)) throw new LookoutError("SESSION_NOT_FOUND");
  const summary = await new SessionIndexStore(env.DB).get(sessionId);
  if (!summary) throw new LookoutError("SESSION_NOT_FOUND");
  return getAgentByName(env.SESSION, sessionId);
}
