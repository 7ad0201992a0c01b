import { performance } from "node:perf_hooks";
import WebSocket from "ws";

/** How long connecting and protocol handshakes may take before a benchmark gives up. */
export const HANDSHAKE_TIMEOUT_MS = 15_000;
/** How long a peer gets to answer a close frame. */
const CLOSE_TIMEOUT_MS = 2_000;

/** A received frame, parsed, with the moment (`performance.now()`) it reached this process. */
export interface Received {
  message: unknown;
  receivedAt: number;
}

type Handler = (received: Received) => void;

/**
 * A JSON WebSocket with two ways to read: `next` waits for one matching frame (for handshakes), and
 * `stream` hands every frame to a handler as it arrives (for measurements, without buffering).
 * Frames that arrive before either is in place are kept, so nothing sent right after the upgrade
 * (a welcome, a hello) is missed.
 */
export class JsonSocket {
  private backlog: Received[] = [];
  private handler: Handler | null = null;
  private wake: (() => void) | null = null;
  private closedWith: string | null = null;
  private closeListeners: ((reason: string) => void)[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      // Time first: parsing belongs to the client, not to the latency being measured.
      const receivedAt = performance.now();
      const received = { message: JSON.parse(textOf(data)) as unknown, receivedAt };
      if (this.handler) this.handler(received);
      else {
        this.backlog.push(received);
        this.wake?.();
      }
    });
    socket.on("close", (code, reason) => {
      const closedWith = `${code} ${reason.toString()}`;
      this.closedWith = closedWith;
      this.wake?.();
      for (const listener of this.closeListeners) listener(closedWith);
    });
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<JsonSocket> {
    // Compression off: both the control plane and the baseline are measured on plain frames.
    const socket = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    const wrapped = new JsonSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_request, response) =>
        reject(new Error(`upgrade of ${url} refused: HTTP ${response.statusCode}`)),
      );
    });
    return wrapped;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Resolves with the first frame for which `match` returns a value; earlier frames are dropped. */
  async next<T>(match: (message: unknown) => T | undefined, timeoutMs = HANDSHAKE_TIMEOUT_MS): Promise<T> {
    if (this.handler) throw new Error("this socket is streaming; `next` would never see a frame");
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.backlog.length > 0) {
        const found = match(this.backlog.shift()!.message);
        if (found !== undefined) return found;
      }
      if (this.closedWith) throw new Error(`socket closed (${this.closedWith}) while waiting for a frame`);
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error("timed out waiting for a frame");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Hands every buffered and future frame to `handler`; `null` goes back to buffering. */
  stream(handler: Handler | null): void {
    this.handler = handler;
    if (!handler) return;
    const backlog = this.backlog;
    this.backlog = [];
    for (const received of backlog) handler(received);
  }

  /** Calls `listener` with the close code and reason once the socket closes, whoever closes it. */
  onClose(listener: (reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  get closed(): string | null {
    return this.closedWith;
  }

  /** Closes cleanly, or drops the connection if the peer does not answer the close in time. */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.terminate(), CLOSE_TIMEOUT_MS);
      this.socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close(1000, "done");
    });
  }
}

function textOf(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString("utf8");
}

/** A frame's `type`, or null when it has none. */
export function typeOf(message: unknown): string | null {
  return typeof message === "object" && message !== null && "type" in message && typeof message.type === "string" ? message.type : null;
}
