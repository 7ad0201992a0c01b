import type { SessionScmPort } from "../scm/pull-requests";
import type { SessionAgent } from "../session/session-agent";
import { unwrap } from "../session/rpc";

/** Most events read when composing a pull request's body. */
const BODY_EVENTS_LIMIT = 1000;

/** The session's Durable Object as the pull-request service sees it. */
export function sessionScmPort(stub: DurableObjectStub<SessionAgent>): SessionScmPort {
  return {
    scmContext: () => unwrap(stub.scmContext()),
    events: async () => (await unwrap(stub.eventsAfter(0, BODY_EVENTS_LIMIT))).events,
    recordArtifact: async (artifact) => {
      await unwrap(stub.recordArtifact(artifact));
    },
  };
}
