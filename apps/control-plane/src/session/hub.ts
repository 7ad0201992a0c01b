import {
  type EventPayload,
  LookoutError,
  type SandboxStatus,
  type ServerMessage,
  type SessionCommand,
  type SessionEvent,
  type SessionState,
  type SessionStatus,
} from "@lookout/protocol";
import { log } from "../log";
import type { SessionStores } from "./context";
import type { SessionPorts, Socket } from "./ports";
import { type ClientConnectionState, presenceOf } from "./presence";
import { type SessionRecord, toState } from "./session-store";

/**
 * The session's one way in and its ways out. `run` wraps every entry point: its storage work is one
 * transaction, and what it says to sockets, the background work it starts and the D1 index write
 * are held until that transaction commits — a failure undoes the writes and nobody hears about
 * them. Afterwards the alarm is re-armed for the earliest deadline, whatever happened.
 */
export class SessionHub {
  private depth = 0;
  /** Socket sends and closes, in order, waiting for the commit. */
  private outputs: (() => void)[] = [];
  private effects: (() => Promise<unknown>)[] = [];
  private indexDirty = false;
  private indexWrite: Promise<void> = Promise.resolve();
  /** Told of every recorded event inside its unit (`observe`). */
  private readonly observers: ((payload: EventPayload) => void)[] = [];

  constructor(
    private readonly ports: SessionPorts,
    private readonly stores: SessionStores,
  ) {}

  /**
   * Runs `work` as a unit. Nested calls are savepoints of the outer unit: one that throws undoes its
   * own writes and drops its own outputs, and the caller may catch and carry on.
   */
  run<T>(work: () => T): T {
    const outputs = this.outputs.length;
    const effects = this.effects.length;
    const indexDirty = this.indexDirty;
    this.depth += 1;
    try {
      const result = this.ports.sql.transaction(work);
      if (this.depth === 1) this.flush();
      return result;
    } catch (error) {
      this.outputs.length = outputs;
      this.effects.length = effects;
      this.indexDirty = indexDirty;
      throw error;
    } finally {
      this.depth -= 1;
      if (this.depth === 0) this.ports.armAlarm(this.stores.deadlines.earliest());
    }
  }

  /** Starts `work` once the current unit commits (at once outside a unit). */
  defer(work: () => Promise<unknown>): void {
    this.effects.push(work);
    if (this.depth === 0) this.flush();
  }

  /** The D1 index mirrors the session; it is written once per unit that changed what it shows. */
  touchIndex(): void {
    this.indexDirty = true;
  }

  /** Settles when the last index write started by a committed unit has finished. */
  indexSettled(): Promise<void> {
    return this.indexWrite;
  }

  private flush(): void {
    const outputs = this.outputs;
    const effects = this.effects;
    this.outputs = [];
    this.effects = [];
    for (const output of outputs) output();
    for (const effect of effects) this.ports.defer(effect());
    if (this.indexDirty) {
      this.indexDirty = false;
      const session = this.stores.session.get();
      if (session) {
        this.indexWrite = this.ports.index.write(session, this.ports.now());
        this.ports.defer(this.indexWrite);
      }
    }
  }

  // ---------------------------------------------------------------- the session's state

  requireSession(): SessionRecord {
    const session = this.stores.session.get();
    if (!session) throw new LookoutError("SESSION_NOT_FOUND");
    return session;
  }

  state(): SessionState {
    return toState(this.requireSession(), this.stores.sandbox.status());
  }

  /** Appends an event to the log and sends it to every subscriber. */
  record(payload: EventPayload): SessionEvent {
    const { event, json } = this.stores.events.appendSerialized(payload, this.ports.now());
    this.stores.retention.afterAppend(payload);
    // The `events` frame around the stored JSON: every streamed token is serialized once.
    this.broadcastText(`{"type":"events","events":[${json}],"replay":false}`);
    for (const observer of this.observers) observer(payload);
    return event;
  }

  /**
   * Calls `observer` with each event recorded from now on, inside the unit that records it (so
   * what it starts belongs after the commit: `defer`). It runs on every streamed event: keep it cheap.
   */
  observe(observer: (payload: EventPayload) => void): void {
    this.observers.push(observer);
  }

  setStatus(status: SessionStatus): void {
    const session = this.requireSession();
    if (session.status === status) return;
    this.stores.session.update({ status }, this.ports.now());
    this.broadcastSession();
    this.touchIndex();
  }

  setSandboxStatus(status: SandboxStatus): void {
    const sandbox = this.stores.sandbox.get();
    if (!sandbox || sandbox.status === status) return;
    this.stores.sandbox.update({ status }, this.ports.now());
    this.broadcastSession();
  }

  // ---------------------------------------------------------------- clients

  /** Presence of every connected client, leaving out a socket that is closing. */
  presence(excludeId?: string) {
    const clients: ClientConnectionState[] = [];
    for (const socket of this.ports.sockets()) {
      const state = socket.state();
      if (state?.kind === "client" && socket.id !== excludeId) clients.push(state);
    }
    return presenceOf(clients, this.ports.now());
  }

  broadcastPresence(excludeId?: string): void {
    this.broadcast({ type: "presence", entries: this.presence(excludeId) });
  }

  broadcastQueue(): void {
    this.broadcast({ type: "queue", prompts: this.stores.queue.active() });
  }

  broadcastSession(): void {
    this.broadcast({ type: "session", session: this.state() });
  }

  /** Sends to every client subscribed now; the frame is serialized once. */
  broadcast(message: ServerMessage): void {
    this.broadcastText(JSON.stringify(message));
  }

  /** Sends a serialized `ServerMessage` to every client subscribed now, as one output of the unit. */
  private broadcastText(text: string): void {
    const subscribers: Socket[] = [];
    for (const socket of this.ports.sockets()) {
      const state = socket.state();
      if (state?.kind === "client" && state.subscribed) subscribers.push(socket);
    }
    if (subscribers.length === 0) return;
    this.outputs.push(() => {
      for (const socket of subscribers) safeSend(socket, text);
    });
    if (this.depth === 0) this.flush();
  }

  send(socket: Socket, message: ServerMessage | SessionCommand): void {
    this.sendText(socket, JSON.stringify(message));
  }

  sendText(socket: Socket, text: string): void {
    this.outputs.push(() => safeSend(socket, text));
    if (this.depth === 0) this.flush();
  }

  close(socket: Socket, code: number, reason: string): void {
    this.outputs.push(() => safeClose(socket, code, reason));
    if (this.depth === 0) this.flush();
  }

  // ---------------------------------------------------------------- the bridge

  /** The connected bridge of the session's current sandbox, if there is one. */
  bridgeSocket(): Socket | null {
    const sandbox = this.stores.sandbox.get();
    if (!sandbox) return null;
    for (const socket of this.ports.sockets()) {
      const state = socket.state();
      if (state?.kind === "bridge" && state.sandboxId === sandbox.sandboxId) return socket;
    }
    return null;
  }

  /** Sends a command to the bridge; false when no bridge is connected. */
  sendToBridge(command: SessionCommand): boolean {
    const socket = this.bridgeSocket();
    if (!socket) return false;
    this.send(socket, command);
    return true;
  }

  closeBridges(code: number, reason: string): void {
    for (const socket of this.ports.sockets()) {
      if (socket.state()?.kind === "bridge") this.close(socket, code, reason);
    }
  }
}

function safeSend(socket: Socket, text: string): void {
  try {
    socket.send(text);
  } catch (error) {
    // A socket that closed between listing and sending is cleaned up by its close handler.
    log.debug("send to a closing socket failed", { socketId: socket.id, error: String(error) });
  }
}

function safeClose(socket: Socket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch (error) {
    // Closing a socket that already closed changes nothing; the unit has committed either way.
    log.debug("closing a closed socket failed", { socketId: socket.id, error: String(error) });
  }
}
