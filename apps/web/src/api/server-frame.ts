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

/** An event whose payload is not checked yet: enough to know its place in the log. */
export const LooseEvent = z.object({ seq: Seq }).loose();

const EventsEnvelope = z.object({
  type: z.literal("events"),
  events: z.array(LooseEvent),
  replay: z.boolean(),
});

export interface ParsedEvents {
  events: SessionEvent[];
  highestSeq: number;
  skipped: number;
}

/**
 * Validates events one by one, so that a payload type added to the server later skips that event
 * rather than the whole batch, while its `seq` still counts as seen.
 */
export function parseEvents(candidates: ReadonlyArray<z.infer<typeof LooseEvent>>): ParsedEvents {
  const events: SessionEvent[] = [];
  let highestSeq = 0;
  let skipped = 0;
  for (const candidate of candidates) {
    highestSeq = Math.max(highestSeq, candidate.seq);
    const event = SessionEvent.safeParse(candidate);
    if (event.success) events.push(event.data);
    else skipped++;
  }
  return { events, highestSeq, skipped };
}

/** Validates one frame from the session socket, or returns null when it is not one this client understands. */
export function parseServerFrame(raw: unknown): ParsedServerFrame | null {
  if (typeof raw !== "string") return null;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  const envelope = EventsEnvelope.safeParse(data);
  if (envelope.success) return { type: "events", replay: envelope.data.replay, ...parseEvents(envelope.data.events) };
  const message = ServerMessage.safeParse(data);
  if (!message.success || message.data.type === "events") return null;
  return message.data;
}
