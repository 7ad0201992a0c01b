import { type ServerMessage, type SessionEvent } from "@lookout/protocol";

/** A REST caller bound to one signed-in user. */
export function apiClient(baseUrl: string, cookie: string) {
  return async <T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : null) as T };
  };
}

/**
 * A session WebSocket client as the dashboard uses it: mints a token, subscribes from a sequence,
 * keeps every event it receives, and lets a test wait for a condition with a deadline.
 */
export class SessionClient {
  readonly messages: ServerMessage[] = [];
  private readonly waiters = new Set<() => void>();
  private socket: WebSocket | null = null;
  private stopped = false;
  /** How many times the socket dropped and was reopened from the last sequence seen. */
  reconnects = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly cookie: string,
    readonly sessionId: string,
  ) {}

  /** The highest sequence received so far. */
  lastSeq(): number {
    return this.events().reduce((max, event) => Math.max(max, event.seq), 0);
  }

  async connect(afterSeq = 0): Promise<void> {
    const minted = await apiClient(this.baseUrl, this.cookie)<{ path: string }>("POST", `/api/sessions/${this.sessionId}/ws-token`);
    if (minted.status !== 200) throw new Error(`ws-token failed: ${minted.status} ${JSON.stringify(minted.json)}`);
    const socket = new WebSocket(this.baseUrl.replace(/^http/, "ws") + minted.json.path);
    this.socket = socket;
    const subscribedBefore = this.messages.filter((m) => m.type === "subscribed").length;
    socket.addEventListener("message", (event) => {
      this.messages.push(JSON.parse(String(event.data)) as ServerMessage);
      this.wake();
    });
    socket.addEventListener("close", () => {
      // Like the dashboard: a dropped socket is reopened and resumes after the last event seen.
      if (!this.stopped && this.socket === socket) {
        this.reconnects++;
        setTimeout(() => void this.connect(this.lastSeq()).catch(() => undefined), 200);
      }
      this.wake();
    });
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("session socket failed to open")), { once: true });
    });
    socket.send(JSON.stringify({ type: "subscribe", afterSeq }));
    await this.waitFor(() => this.messages.filter((m) => m.type === "subscribed").length > subscribedBefore, 10_000, "subscribed");
  }

  send(message: unknown): void {
    this.socket?.send(JSON.stringify(message));
  }

  close(): void {
    this.stopped = true;
    this.socket?.close(1000, "done");
  }

  /** Every event received, in arrival order (replayed and live). */
  events(): SessionEvent[] {
    return this.messages.flatMap((message) => (message.type === "events" ? message.events : []));
  }

  /** The latest state of each row, as a dashboard would render it (replace by key). */
  timeline(): SessionEvent[] {
    const rows = new Map<string, SessionEvent>();
    for (const event of this.events()) rows.set(event.key ?? `seq:${event.seq}`, event);
    return [...rows.values()].sort((a, b) => a.seq - b.seq);
  }

  async waitForEvent(predicate: (event: SessionEvent) => boolean, timeoutMs = 60_000, what = "event"): Promise<SessionEvent> {
    let found: SessionEvent | undefined;
    await this.waitFor(() => (found = this.events().find(predicate)) !== undefined, timeoutMs, what);
    return found!;
  }

  async waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const seen = this.events()
          .map((e) => e.payload.type)
          .join(", ");
        throw new Error(`timed out waiting for ${what}; events so far: ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.waiters.delete(wake);
          resolve();
        }, remaining);
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
      });
    }
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
