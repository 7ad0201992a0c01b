import {
  backoffDelayMs,
  type BackoffPolicy,
  type BridgeEventPayload,
  type BridgeMessage,
  LookoutError,
  parseFrame,
  SessionCommand,
  SOCKET_CLOSE_CODES,
  typesOf,
} from "@lookout/protocol";
import type { Clock, Timer } from "./clock";
import { errorMessage, type Logger } from "./logger";
import type { Outbox } from "./outbox";

/**
 * Close codes with which the session refuses this bridge for good: auth refused (4401/4403),
 * another bridge connection took over (4409; the bridge never holds two sockets, so on its
 * current socket this means another process), and sandbox retired or superseded (4410).
 */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  SOCKET_CLOSE_CODES.SIGNED_OUT,
  SOCKET_CLOSE_CODES.FORBIDDEN,
  SOCKET_CLOSE_CODES.SUPERSEDED,
  SOCKET_CLOSE_CODES.SANDBOX_RETIRED,
]);
/** Critical events unacknowledged this long on a live socket are written again. */
export const CRITICAL_RESEND_AFTER_MS = 30_000;
/** Redial delays when none are configured: from 0.5 s, doubling to 30 s. */
export const DEFAULT_RECONNECT_BACKOFF: ReconnectBackoff = { baseMs: 500, maxMs: 30_000 };

/**
 * The redial schedule's numbers. The jitter is always "equal": bridges that lost the same session
 * spread their redials out, yet none redials instantly.
 */
export type ReconnectBackoff = Pick<BackoffPolicy, "baseMs" | "maxMs">;

const SESSION_COMMAND_TYPES = typesOf(SessionCommand);

/** Commands the bridge acts on (connection-level frames are handled here). */
export type AgentCommand = Extract<SessionCommand, { type: "command.prompt" | "command.stop" | "command.push.decided" }>;

export interface SocketHandlers {
  onOpen(): void;
  onMessage(data: string): void;
  /** Any sign of life below the protocol (a pong). */
  onPong(): void;
  /** Called exactly once per socket. */
  onClose(code: number, reason: string): void;
}

export interface SocketLike {
  send(data: string): void;
  ping(): void;
  close(code: number, reason: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
}

export type SocketFactory = (url: string, headers: Record<string, string>, handlers: SocketHandlers) => SocketLike;

export interface ConnectionOptions {
  url: string;
  headers: Record<string, string>;
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  socketFactory: SocketFactory;
  heartbeatIntervalMs: number;
  /** 0 disables liveness checks. */
  livenessTimeoutMs: number;
  backoff?: ReconnectBackoff;
  random?: () => number;
  onCommand(command: AgentCommand): void;
  /** The session refused this bridge for good (close code 4401/4403/4410). */
  onFatal(code: number, reason: string): void;
}

type State = "idle" | "connecting" | "awaiting-welcome" | "ready" | "closed";

/**
 * The bridge's link to its session: dials, waits for `bridge.welcome`, (re)sends the outbox in
 * order, writes new events live, acknowledges nothing itself, sends heartbeats, and redials with
 * backoff until closed or refused.
 */
export class BridgeConnection {
  private state: State = "idle";
  private socket: SocketLike | undefined;
  private attempt = 0;
  private reconnectTimer: Timer | undefined;
  private heartbeatTimer: Timer | undefined;
  private lastInboundAt = 0;
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly options: ConnectionOptions) {}

  get isReady(): boolean {
    return this.state === "ready";
  }

  start(): void {
    if (this.state !== "idle") return;
    this.dial();
  }

  /** Buffers an event and writes it now if the session is listening. */
  send(event: BridgeEventPayload): number {
    const entry = this.options.outbox.push(event);
    if (this.state === "ready") this.write(entry.bseq, entry.event, (at) => (entry.sentAt = at));
    return entry.bseq;
  }

  /** Resolves once no critical event awaits acknowledgement, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    if (!this.options.outbox.hasCritical()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.options.clock.setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        timer.cancel();
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  close(code = 1000, reason = "bridge shutting down"): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.reconnectTimer?.cancel();
    this.heartbeatTimer?.cancel();
    this.socket?.close(code, reason);
    this.socket = undefined;
  }

  private dial(): void {
    this.state = "connecting";
    const { logger } = this.options;
    logger.info("connecting to session", { url: this.options.url, attempt: this.attempt });
    // Handlers run only after the factory has returned (sockets report asynchronously); a
    // late report from a replaced socket is ignored.
    const isCurrent = (): boolean => this.socket === socket;
    const socket: SocketLike = this.options.socketFactory(this.options.url, this.options.headers, {
      onOpen: () => {
        if (!isCurrent()) return;
        this.state = "awaiting-welcome";
        this.lastInboundAt = this.options.clock.now();
        this.scheduleHeartbeat();
      },
      onMessage: (data) => {
        if (!isCurrent()) return;
        this.lastInboundAt = this.options.clock.now();
        this.handleFrame(data);
      },
      onPong: () => {
        if (isCurrent()) this.lastInboundAt = this.options.clock.now();
      },
      onClose: (code, reason) => {
        if (!isCurrent()) return;
        this.socket = undefined;
        this.heartbeatTimer?.cancel();
        if (this.state === "closed") return;
        if (FATAL_CLOSE_CODES.has(code)) {
          logger.error("session refused the bridge", { code, reason });
          this.state = "closed";
          this.options.onFatal(code, reason);
          return;
        }
        logger.warn("session connection closed", { code, reason });
        this.scheduleReconnect();
      },
    });
    this.socket = socket;
  }

  private handleFrame(data: string): void {
    let command: SessionCommand;
    try {
      command = parseFrame(SessionCommand, SESSION_COMMAND_TYPES, data);
    } catch (error) {
      const code = error instanceof LookoutError ? error.code : "INVALID_FRAME";
      this.options.logger.warn("ignored an invalid frame from the session", { code, error: errorMessage(error) });
      return;
    }
    switch (command.type) {
      case "bridge.welcome": {
        const pending = this.options.outbox.welcome(command.lastBseq);
        this.state = "ready";
        this.attempt = 0;
        this.options.logger.info("session welcomed the bridge", { lastBseq: command.lastBseq, resending: pending.length });
        for (const entry of pending) this.write(entry.bseq, entry.event, (at) => (entry.sentAt = at));
        this.notifyDrained();
        return;
      }
      case "bridge.ack":
        this.options.outbox.ack(command.bseq);
        this.notifyDrained();
        return;
      case "error":
        this.options.logger.warn("session reported an error", { code: command.code, message: command.message });
        return;
      default:
        this.options.onCommand(command);
    }
  }

  private write(bseq: number, event: BridgeEventPayload, markSent: (at: number) => void): void {
    const frame: BridgeMessage = { type: "bridge.event", bseq, event };
    this.writeFrame(frame);
    markSent(this.options.clock.now());
  }

  private writeFrame(frame: BridgeMessage): void {
    try {
      this.socket?.send(JSON.stringify(frame));
    } catch (error) {
      // A failed write surfaces as a close; the outbox still holds the event.
      this.options.logger.warn("write to session failed", { error: errorMessage(error) });
    }
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer?.cancel();
    this.heartbeatTimer = this.options.clock.setTimeout(() => this.heartbeat(), this.options.heartbeatIntervalMs);
  }

  private heartbeat(): void {
    const socket = this.socket;
    if (!socket || this.state === "closed" || this.state === "connecting") return;
    const now = this.options.clock.now();
    const { livenessTimeoutMs } = this.options;
    if (livenessTimeoutMs > 0 && now - this.lastInboundAt > livenessTimeoutMs) {
      this.options.logger.warn("session connection looks dead; reconnecting", { silentMs: now - this.lastInboundAt });
      socket.terminate();
      return;
    }
    socket.ping();
    if (this.state === "ready") {
      this.writeFrame({ type: "bridge.heartbeat", at: now });
      for (const entry of this.options.outbox.staleCritical(now - CRITICAL_RESEND_AFTER_MS)) {
        this.write(entry.bseq, entry.event, (at) => (entry.sentAt = at));
      }
    }
    this.scheduleHeartbeat();
  }

  private scheduleReconnect(): void {
    this.state = "connecting";
    const backoff = this.options.backoff ?? DEFAULT_RECONNECT_BACKOFF;
    const delayMs = backoffDelayMs(++this.attempt, { ...backoff, jitter: "equal" }, this.options.random);
    this.options.logger.info("reconnecting", { delayMs, attempt: this.attempt });
    this.reconnectTimer = this.options.clock.setTimeout(() => {
      if (this.state !== "closed") this.dial();
    }, delayMs);
  }

  private notifyDrained(): void {
    if (this.options.outbox.hasCritical()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
