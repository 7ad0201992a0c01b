import { Author, type PresenceEntry, ParticipantRole } from "@lookout/protocol";
import { z } from "zod";

/** How long a `typing` signal counts before it lapses on its own. */
export const TYPING_TTL_MS = 6_000;

/**
 * What each WebSocket remembers about itself. It is stored in the socket's attachment, so it
 * survives hibernation, and it is validated whenever it is read back.
 */
export const ConnectionState = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("client"),
    author: Author,
    role: ParticipantRole,
    subscribed: z.boolean(),
    status: z.enum(["active", "idle"]),
    typingUntil: z.number(),
  }),
  z.object({ kind: z.literal("bridge"), sandboxId: z.string() }),
]);
export type ConnectionState = z.infer<typeof ConnectionState>;
export type ClientConnectionState = Extract<ConnectionState, { kind: "client" }>;

/** Presence per person (several tabs count once; active and typing win over idle and silent). */
export function presenceOf(clients: readonly ClientConnectionState[], now: number): PresenceEntry[] {
  const byUser = new Map<string, PresenceEntry>();
  for (const client of clients) {
    const typing = client.typingUntil > now;
    const existing = byUser.get(client.author.userId);
    if (!existing) {
      byUser.set(client.author.userId, { participant: client.author, role: client.role, status: client.status, typing, connections: 1 });
      continue;
    }
    existing.connections += 1;
    if (client.status === "active") existing.status = "active";
    existing.typing ||= typing;
  }
  return [...byUser.values()].sort((a, b) => a.participant.name.localeCompare(b.participant.name));
}
