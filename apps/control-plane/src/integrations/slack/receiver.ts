import type { App, Receiver } from "@slack/bolt";

/** What Bolt's `ack` was given: nothing (a plain 200) or a response body. */
export type AckBody = Record<string, unknown> | string | null;

export interface Dispatched {
  /** Settles as soon as Bolt acknowledges the request; the HTTP answer goes out then. */
  acked: Promise<AckBody>;
  /** Settles when Bolt's listeners are done; the Worker keeps it alive with `waitUntil`. */
  done: Promise<void>;
}

/**
 * Bolt's receiver for a Worker (Bolt ships only Node servers). The route verifies the request over
 * its raw bytes and parses it; this hands the body to `app.processEvent` and exposes the moment
 * Bolt calls `ack`, so the route answers Slack then and lets the listeners run on in the background.
 */
export class WorkerReceiver implements Receiver {
  private app: App | null = null;

  init(app: App): void {
    this.app = app;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  dispatch(body: Record<string, unknown>, retry: { retryNum?: number; retryReason?: string }): Dispatched {
    const app = this.app;
    if (!app) throw new Error("the Slack receiver was dispatched to before Bolt initialized it");
    let resolveAck!: (body: AckBody) => void;
    const acked = new Promise<AckBody>((resolve) => {
      resolveAck = resolve;
    });
    let isAcked = false;
    const done = app
      .processEvent({
        body,
        ...retry,
        ack: (response?: unknown) => {
          if (isAcked) return Promise.resolve();
          isAcked = true;
          resolveAck(typeof response === "string" || (typeof response === "object" && response !== null) ? (response as AckBody) : null);
          return Promise.resolve();
        },
      })
      .finally(() => {
        // A request no listener took (an event type Lookout does not handle) is still answered.
        if (!isAcked) {
          isAcked = true;
          resolveAck(null);
        }
      });
    return { acked, done };
  }
}
