import { performance } from "node:perf_hooks";
import type { BenchEvent } from "./bench-events.ts";
import type { JsonSocket } from "./json-socket.ts";
import { Samples } from "./stats.ts";

/** How a publisher's frames look on one server's wire. */
export interface PublishProtocol {
  frame(seq: number, event: BenchEvent): unknown;
  /** The sequence a frame acknowledges, if it is an acknowledgement. */
  ackOf(message: unknown): number | undefined;
  /** Why the server refused an event, if the frame is a refusal. */
  refusalOf(message: unknown): string | undefined;
  heartbeat?: { intervalMs: number; frame(): unknown };
}

interface AckWaiter {
  count: number;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * The one socket events enter through (Lookout's bridge, the baseline's publisher). It numbers
 * events, timestamps each send and measures how long the server took to acknowledge it: the
 * server-side cost of storing and fanning out one event, seen from the sender.
 */
export class Publisher {
  /** Send → acknowledgement round trips, in milliseconds. */
  readonly ackRoundTripsMs = new Samples();
  private readonly sentAt = new Map<number, number>();
  private nextSeq: number;
  private ackedCount = 0;
  private waiters: AckWaiter[] = [];
  private failure: Error | null = null;
  private readonly heartbeat: NodeJS.Timeout | null;

  constructor(
    private readonly socket: JsonSocket,
    private readonly protocol: PublishProtocol,
    firstSeq: number,
  ) {
    this.nextSeq = firstSeq;
    socket.stream(({ message, receivedAt }) => this.onFrame(message, receivedAt));
    socket.onClose((reason) => this.fail(new Error(`the publisher's socket closed (${reason})`)));
    const beat = protocol.heartbeat;
    this.heartbeat = beat ? setInterval(() => socket.send(beat.frame()), beat.intervalMs) : null;
  }

  get acked(): number {
    return this.ackedCount;
  }

  /** Why this publisher can no longer publish (its socket closed, or the server refused an event). */
  get failed(): Error | null {
    return this.failure;
  }

  /** Sends one event now; returns its sequence. */
  publish(event: BenchEvent): number {
    if (this.failure) throw this.failure;
    const seq = this.nextSeq++;
    this.sentAt.set(seq, performance.now());
    this.socket.send(this.protocol.frame(seq, event));
    return seq;
  }

  /** Resolves once `count` events in total have been acknowledged. */
  whenAcked(count: number, timeoutMs: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ackedCount >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        reject(new Error(`only ${this.ackedCount} of ${count} events were acknowledged within ${timeoutMs}ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ count, resolve: done, reject });
    });
  }

  close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.failure ??= new Error("the publisher was closed");
    return this.socket.close();
  }

  private onFrame(message: unknown, receivedAt: number): void {
    const refusal = this.protocol.refusalOf(message);
    if (refusal !== undefined) return this.fail(new Error(`the server refused an event: ${refusal}`));
    const seq = this.protocol.ackOf(message);
    if (seq === undefined) return;
    const sentAt = this.sentAt.get(seq);
    // Acks of frames sent before this publisher took over the socket (a handshake) are not ours.
    if (sentAt === undefined) return;
    this.sentAt.delete(seq);
    this.ackRoundTripsMs.push(receivedAt - sentAt);
    this.ackedCount++;
    const ready = this.waiters.filter((waiter) => waiter.count <= this.ackedCount);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => waiter.count > this.ackedCount);
    for (const waiter of ready) waiter.resolve();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters = [];
  }
}
