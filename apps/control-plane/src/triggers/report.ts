import type { SessionOutcome } from "@lookout/protocol";
import type { Env } from "../env";
import { log } from "../log";
import { enqueueOutcome } from "./outbox";
import { wakeScheduler } from "./scheduler-object";

/**
 * The session's port to its origin: called when a prompt settles, when a pull request is recorded,
 * and (throttled by the session) when a running prompt reaches a new step. It only writes the report
 * to the durable outbox and wakes the scheduler that drains it, so it is fast and the platform being
 * down never reaches the session. It never throws: a report that cannot even be enqueued is logged,
 * because failing the session's own work would be worse.
 */
export async function reportOutcome(env: Env, outcome: SessionOutcome): Promise<void> {
  try {
    const enqueued = await enqueueOutcome(env.DB, outcome, Date.now());
    if (enqueued) await wakeScheduler(env, Date.now());
  } catch (error) {
    log.error("could not enqueue a session outcome", { sessionId: outcome.sessionId, kind: outcome.kind, error });
  }
}
