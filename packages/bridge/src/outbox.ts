import { CRITICAL_BRIDGE_EVENTS, type BridgeEventPayload } from "@lookout/protocol";

export interface OutboxEntry {
  bseq: number;
  event: BridgeEventPayload;
  critical: boolean;
  /** When the entry was last written to a socket, or undefined if never. */
  sentAt: number | undefined;
}

export interface OutboxStats {
  size: number;
  critical: number;
  /** Non-critical events dropped because the buffer was full. */
  dropped: number;
}

/**
 * The bridge's buffer of events the session has not acknowledged. Every event gets the next
 * `bseq`; acknowledgements (cumulative, like `bridge.welcome.lastBseq`) release entries. When the
 * buffer is full the oldest non-critical event is dropped; critical events are never dropped.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private nextBseq = 1;
  private dropped = 0;
  private welcomed = false;

  constructor(private readonly maxEvents: number) {}

  push(event: BridgeEventPayload): OutboxEntry {
    const entry: OutboxEntry = { bseq: this.nextBseq++, event, critical: CRITICAL_BRIDGE_EVENTS.has(event.type), sentAt: undefined };
    this.entries.push(entry);
    while (this.entries.length > this.maxEvents) {
      const oldest = this.entries.findIndex((e) => !e.critical);
      if (oldest < 0) break;
      this.entries.splice(oldest, 1);
      this.dropped++;
    }
    return entry;
  }

  /** Releases every entry up to and including `bseq`. */
  ack(bseq: number): void {
    if (this.entries.length === 0 || (this.entries[0]?.bseq ?? Infinity) > bseq) return;
    this.entries = this.entries.filter((entry) => entry.bseq > bseq);
  }

  /**
   * Handles `bridge.welcome`: releases what the session already stored and returns what to send,
   * in order. On the first welcome of this process a `lastBseq` at or past our own numbering means
   * an earlier bridge process in this sandbox already used those numbers (nothing of ours has been
   * sent yet), so the buffered events are renumbered after it rather than being taken for
   * duplicates.
   */
  welcome(lastBseq: number): OutboxEntry[] {
    if (!this.welcomed && lastBseq > 0) {
      const firstUnsent = this.entries[0]?.bseq ?? this.nextBseq;
      if (lastBseq >= firstUnsent) {
        let bseq = lastBseq + 1;
        for (const entry of this.entries) entry.bseq = bseq++;
        this.nextBseq = bseq;
      }
    }
    this.welcomed = true;
    this.ack(lastBseq);
    if (this.nextBseq <= lastBseq) this.nextBseq = lastBseq + 1;
    for (const entry of this.entries) entry.sentAt = undefined;
    return [...this.entries];
  }

  /** Critical entries written before `before` and still unacknowledged. */
  staleCritical(before: number): OutboxEntry[] {
    return this.entries.filter((entry) => entry.critical && entry.sentAt !== undefined && entry.sentAt < before);
  }

  hasCritical(): boolean {
    return this.entries.some((entry) => entry.critical);
  }

  stats(): OutboxStats {
    return { size: this.entries.length, critical: this.entries.filter((e) => e.critical).length, dropped: this.dropped };
  }
}
