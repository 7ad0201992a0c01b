import { z } from "zod";
import { SessionEvent, ServerMessage, Seq } from "@lookout/protocol";

/** An `events` frame after validation; `highestSeq` also counts events this client cannot render. */
export interface EventsFrame {
  type: "events";
  events: SessionEvent[];
  replay: boolean;
  highestSeq: number;
  /** How many events were dropped because their payload is newer than this dashboard. */
  skipped: number;
}

export type ParsedServerFrame = Exclude<ServerMessage, { type: "events" }> | EventsFrame;

const EventsEnvelope = z.object({
  type: z.literal("events"),
  events: z.array(z.object({ seq: Seq }).loose()),
  replay: z.boolean(),
});

/**
 * Validates one frame from the session socket, or returns null when it is not one this client
 * understands. Events are checked one by one so that a payload type added to the server later
 * skips that event rather than the whole batch, while its `seq` still counts as seen.
 */
export function parseServerFrame(raw: unknown): ParsedServerFrame | null {
  if (typeof raw !== "string") return null;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  const envelope = EventsEnvelope.safeParse(data);
  if (envelope.success) {
    const events: SessionEvent[] = [];
    let highestSeq = 0;
    let skipped = 0;
    for (const candidate of envelope.data.events) {
      highestSeq = Math.max(highestSeq, candidate.seq);
      const event = SessionEvent.safeParse(candidate);
      if (event.success) events.push(event.data);
      else skipped++;
    }
    return { type: "events", events, replay: envelope.data.replay, highestSeq, skipped };
  }
  const message = ServerMessage.safeParse(data);
  if (!message.success || message.data.type === "events") return null;
  return message.data;
}
