import type { SessionEvent } from "@lookout/protocol";

/**
 * A number that changes whenever someone joins the session or has their role changed: the
 * sequence of the newest `participant.*` event (0 before any). The roles list refetches on it.
 */
export function participantsVersion(events: readonly SessionEvent[]): number {
  let version = 0;
  for (const event of events) {
    if (event.payload.type === "participant.joined" || event.payload.type === "participant.role") version = Math.max(version, event.seq);
  }
  return version;
}
