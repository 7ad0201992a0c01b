import type { Clock, Timer } from "./clock";

export interface TextUpdate {
  promptId: string;
  messageId: string;
  role: "assistant" | "reasoning";
  text: string;
}

interface Row {
  update: TextUpdate;
  sentText: string | undefined;
  sentAt: number;
  timer: Timer | undefined;
}

/**
 * Coalesces cumulative text updates: each message is sent at most once per interval, the latest
 * text wins, and a final update (or `flushAll`) is sent at once. Streaming a long answer thus
 * costs a handful of frames per second instead of one per token.
 */
export class TextCoalescer {
  private readonly rows = new Map<string, Row>();

  constructor(
    private readonly send: (update: TextUpdate) => void,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  update(update: TextUpdate, final: boolean): void {
    const row = this.rows.get(update.messageId) ?? { update, sentText: undefined, sentAt: Number.NEGATIVE_INFINITY, timer: undefined };
    row.update = update;
    this.rows.set(update.messageId, row);
    if (final || this.clock.now() - row.sentAt >= this.intervalMs) {
      this.flushRow(row);
      return;
    }
    if (!row.timer) {
      row.timer = this.clock.setTimeout(
        () => {
          row.timer = undefined;
          this.flushRow(row);
        },
        row.sentAt + this.intervalMs - this.clock.now(),
      );
    }
  }

  /** Sends every pending text now (before a prompt's closing events). */
  flushAll(): void {
    for (const row of this.rows.values()) this.flushRow(row);
  }

  /** Flushes and forgets every message (between prompts). */
  reset(): void {
    this.flushAll();
    this.rows.clear();
  }

  private flushRow(row: Row): void {
    row.timer?.cancel();
    row.timer = undefined;
    if (row.sentText === row.update.text) return;
    row.sentText = row.update.text;
    row.sentAt = this.clock.now();
    this.send(row.update);
  }
}
