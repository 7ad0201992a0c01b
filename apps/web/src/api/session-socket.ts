import { backoffDelayMs, type ClientMessage, SOCKET_CLOSE_CODES } from "@lookout/protocol";
import { ApiError } from "./api-error";
import { parseServerFrame, type ParsedServerFrame } from "./server-frame";

/** The part of the browser's WebSocket this client uses (a fake one in tests). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

const WS_OPEN = 1;

export type ConnectionState =
  /** Minting a token and opening the socket. */
  | { kind: "connecting"; attempt: number }
  /** Open; catching up on missed events. */
  | { kind: "replaying" }
  /** Caught up; events arrive as they happen. */
  | { kind: "live" }
  /** Lost; the next attempt starts at `retryAt` (ms since epoch). */
  | { kind: "waiting"; attempt: number; retryAt: number; reason: string }
  /** The browser is offline; reconnects as soon as it is back. */
  | { kind: "offline" }
  /** Permanently refused (signed out, no access, no such session): no more attempts. */
  | { kind: "failed"; error: ApiError }
  | { kind: "closed" };

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export interface SessionSocketOptions {
  /** Mints a fresh single-use socket token and returns its path; called before every attempt. */
  mintToken(signal: AbortSignal): Promise<{ path: string }>;
  /** The last sequence number already applied; sent in `subscribe` so replay starts after it. */
  afterSeq(): number;
  onFrame(frame: ParsedServerFrame): void;
  onState(state: ConnectionState): void;
  /**
   * The server closed the socket because its sign-in ended (`SOCKET_CLOSE_CODES.SIGNED_OUT`). The
   * connection has stopped for good by then; this lets the page show that it is signed out.
   */
  onSignedOut?(error: ApiError): void;
  /** `ws://host` or `wss://host`; defaults to the page's origin. */
  origin?: string;
  createSocket?: (url: string) => WebSocketLike;
  timers?: Timers;
  random?: () => number;
  /** Defaults to `navigator.onLine`. */
  isOnline?: () => boolean;
  /** Reconnect at once when the browser comes online or the tab becomes visible (default true). */
  watchBrowser?: boolean;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often a `ping` is sent while connected. */
  pingIntervalMs?: number;
  /** A connection that has received nothing for this long is presumed dead and replaced. */
  staleAfterMs?: number;
}

export const DEFAULT_INITIAL_BACKOFF_MS = 500;
export const DEFAULT_MAX_BACKOFF_MS = 30_000;
export const DEFAULT_PING_INTERVAL_MS = 25_000;
export const DEFAULT_STALE_AFTER_MS = 60_000;
/** Normal closure; the server should not treat it as an error. */
const CLOSE_NORMAL = 1000;

const browserTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/**
 * One live subscription to a session's event stream. It mints a token, opens the socket, sends
 * `subscribe` with the last applied sequence, and on any loss reconnects with jittered exponential
 * backoff, resuming after whatever was applied meanwhile, so nothing is missed and, with the
 * timeline reducer ignoring old sequence numbers, nothing is shown twice. Refusals that retrying
 * cannot fix (401, 403, 404, and a close because the sign-in ended) stop it.
 */
export class SessionSocket {
  readonly #options: SessionSocketOptions;
  readonly #timers: Timers;
  #socket: WebSocketLike | null = null;
  #state: ConnectionState = { kind: "closed" };
  #attempt = 0;
  #retryTimer: unknown = null;
  #pingTimer: unknown = null;
  #lastReceivedAt = 0;
  #abort: AbortController | null = null;
  #started = false;
  #removeListeners: (() => void) | null = null;

  constructor(options: SessionSocketOptions) {
    this.#options = options;
    this.#timers = options.timers ?? browserTimers;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#listenToBrowser();
    void this.#connect();
  }

  /** Closes for good; no reconnects. */
  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#removeListeners?.();
    this.#removeListeners = null;
    this.#teardown(CLOSE_NORMAL, "client closed");
    this.#setState({ kind: "closed" });
  }

  /** Sends a frame if the socket is open; returns whether it was sent. */
  send(message: ClientMessage): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WS_OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  /** Skips the remaining backoff (the network came back, the tab became visible). */
  reconnectNow(): void {
    if (!this.#started) return;
    if (this.#state.kind === "waiting" || this.#state.kind === "offline") {
      this.#clearRetry();
      void this.#connect();
    }
  }

  async #connect(): Promise<void> {
    if (!this.#started) return;
    if (!this.#isOnline()) {
      this.#setState({ kind: "offline" });
      return;
    }
    this.#attempt++;
    this.#setState({ kind: "connecting", attempt: this.#attempt });
    const abort = new AbortController();
    this.#abort = abort;

    let path: string;
    try {
      path = (await this.#options.mintToken(abort.signal)).path;
    } catch (error) {
      if (abort.signal.aborted || !this.#started) return;
      if (error instanceof ApiError && isPermanent(error)) {
        this.#setState({ kind: "failed", error });
        return;
      }
      this.#scheduleRetry(error instanceof Error ? error.message : "could not get a connection token");
      return;
    }
    if (abort.signal.aborted || !this.#started) return;

    const url = new URL(path, this.#origin()).toString();
    const create = this.#options.createSocket ?? ((u: string) => new WebSocket(u) as unknown as WebSocketLike);
    let socket: WebSocketLike;
    try {
      socket = create(url);
    } catch (error) {
      this.#scheduleRetry(error instanceof Error ? error.message : "could not open the socket");
      return;
    }
    this.#socket = socket;

    socket.onopen = () => {
      if (this.#socket !== socket) return;
      this.#lastReceivedAt = this.#timers.now();
      this.#setState({ kind: "replaying" });
      this.send({ type: "subscribe", afterSeq: this.#options.afterSeq() });
      this.#armPing();
    };
    socket.onmessage = (event) => {
      if (this.#socket !== socket) return;
      this.#lastReceivedAt = this.#timers.now();
      const frame = parseServerFrame(event.data);
      if (!frame) return;
      if (frame.type === "subscribed") {
        // A connection that got this far is healthy: the next loss starts backoff from scratch.
        this.#attempt = 0;
        this.#setState({ kind: "live" });
      }
      this.#options.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#clearPing();
      if (event.code === SOCKET_CLOSE_CODES.SIGNED_OUT) {
        // Signed out (here or in another tab): a new token would be refused, so stop.
        const error = new ApiError(401, "UNAUTHENTICATED", event.reason || "You were signed out. Sign in again to follow this session.");
        this.#setState({ kind: "failed", error });
        this.#options.onSignedOut?.(error);
        return;
      }
      this.#scheduleRetry(event.reason || `connection closed (${event.code})`);
    };
    // `onclose` always follows `onerror`; reconnecting happens there.
    socket.onerror = () => undefined;
  }

  #scheduleRetry(reason: string): void {
    if (!this.#started) return;
    this.#clearRetry();
    if (!this.#isOnline()) {
      this.#setState({ kind: "offline" });
      return;
    }
    const delayMs = this.#backoffMs();
    const retryAt = this.#timers.now() + delayMs;
    this.#setState({ kind: "waiting", attempt: this.#attempt, retryAt, reason });
    this.#retryTimer = this.#timers.setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, delayMs);
  }

  /**
   * Equal jitter over an exponentially growing ceiling, so many tabs do not reconnect in step yet
   * none retries instantly. A healthy connection that drops has attempt 0; it waits like a first retry.
   */
  #backoffMs(): number {
    const policy = {
      baseMs: this.#options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
      maxMs: this.#options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
      jitter: "equal",
    } as const;
    return backoffDelayMs(Math.max(1, this.#attempt), policy, this.#options.random);
  }

  #armPing(): void {
    this.#clearPing();
    const interval = this.#options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    const staleAfter = this.#options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.#pingTimer = this.#timers.setTimeout(() => {
      this.#pingTimer = null;
      const socket = this.#socket;
      if (!socket) return;
      if (this.#timers.now() - this.#lastReceivedAt >= staleAfter) {
        // A half-open connection never fires `close`; drop it ourselves and start over.
        this.#socket = null;
        socket.close(CLOSE_NORMAL, "no answer to ping");
        this.#scheduleRetry("the connection stopped answering");
        return;
      }
      this.send({ type: "ping" });
      this.#armPing();
    }, interval);
  }

  #clearPing(): void {
    if (this.#pingTimer !== null) this.#timers.clearTimeout(this.#pingTimer);
    this.#pingTimer = null;
  }

  #clearRetry(): void {
    if (this.#retryTimer !== null) this.#timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #teardown(code: number, reason: string): void {
    this.#clearRetry();
    this.#clearPing();
    this.#abort?.abort();
    this.#abort = null;
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      socket.onopen = null;
      socket.onmessage = null;
      socket.onclose = null;
      socket.onerror = null;
      socket.close(code, reason);
    }
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    this.#options.onState(state);
  }

  #isOnline(): boolean {
    if (this.#options.isOnline) return this.#options.isOnline();
    return typeof navigator === "undefined" || navigator.onLine !== false;
  }

  #origin(): string {
    if (this.#options.origin) return this.#options.origin;
    const { protocol, host } = globalThis.location;
    return `${protocol === "https:" ? "wss:" : "ws:"}//${host}`;
  }

  #listenToBrowser(): void {
    if (this.#options.watchBrowser === false || typeof window === "undefined") return;
    const online = () => this.reconnectNow();
    const visible = () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    };
    window.addEventListener("online", online);
    document.addEventListener("visibilitychange", visible);
    this.#removeListeners = () => {
      window.removeEventListener("online", online);
      document.removeEventListener("visibilitychange", visible);
    };
  }
}

function isPermanent(error: ApiError): boolean {
  return error.status === 401 || error.status === 403 || error.status === 404;
}
