import type { MessageTextEvent } from "@lookout/protocol";
import type { z } from "zod";

/** The event every benchmark pushes: one streamed assistant message, stored as its own row. */
export type BenchEvent = z.infer<typeof MessageTextEvent>;

/** About one streamed chunk of prose, so frames have a realistic size (~300 bytes each). */
const FILLER =
  "The agent is reading the repository layout, then it will update the session core so that replay sends batched frames and presence is kept per person.";

const SENT_PREFIX = "sent=";

/**
 * A `message.text` event whose id is `<run>:<index>` and whose text starts with the moment it was
 * sent (`performance.now()` in this process), so every receiver can compute its own latency.
 */
export function benchEvent(promptId: string, run: string, index: number, sentAt: number): BenchEvent {
  return {
    type: "message.text",
    promptId,
    messageId: `${run}:${index}`,
    text: `${SENT_PREFIX}${sentAt.toFixed(3)} ${FILLER}`,
    role: "assistant",
  };
}

/** One bench event as a receiver sees it. */
export interface DeliveredEvent {
  run: string;
  index: number;
  sentAt: number;
  seq: number;
}

/**
 * Calls `visit` for every bench event in an `events` frame (Lookout's and the baseline's share the
 * shape `{type:"events", events:[{seq, payload}]}`) and returns how many events the frame held.
 * Frames of other types hold none.
 */
export function visitBenchEvents(message: unknown, visit: (event: DeliveredEvent) => void): number {
  if (!isRecord(message) || message.type !== "events" || !Array.isArray(message.events)) return 0;
  for (const event of message.events as unknown[]) {
    if (!isRecord(event) || typeof event.seq !== "number" || !isRecord(event.payload)) continue;
    const { payload } = event;
    if (payload.type !== "message.text" || typeof payload.messageId !== "string" || typeof payload.text !== "string") continue;
    const separator = payload.messageId.lastIndexOf(":");
    if (separator < 0 || !payload.text.startsWith(SENT_PREFIX)) continue;
    visit({
      run: payload.messageId.slice(0, separator),
      index: Number(payload.messageId.slice(separator + 1)),
      sentAt: Number(payload.text.slice(SENT_PREFIX.length, payload.text.indexOf(" "))),
      seq: event.seq,
    });
  }
  return message.events.length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
