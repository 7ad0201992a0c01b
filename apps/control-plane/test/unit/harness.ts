import { DatabaseSync } from "node:sqlite";
import type { CreateSandboxRequest, ServerMessage, SessionCommand, SessionOrigin, SessionOutcome } from "@lookout/protocol";
import { GatewayError, type SandboxGateway } from "../../src/session/gateway-client";
import { LIFECYCLE } from "../../src/session/lifecycle";
import type { ConnectionState } from "../../src/session/presence";
import { SessionCore, type Socket } from "../../src/session/session-core";
import type { SessionRecord } from "../../src/session/session-store";
import { nodeSql } from "./sqlite-port";

/** A SessionCore in Node: real SQLite, a hand-driven clock, in-memory sockets and gateway. */
export class Harness {
  readonly db = new DatabaseSync(":memory:");
  now = Date.UTC(2026, 10, 23, 12, 0, 0);
  alarmAt: number | null = null;
  readonly sockets = new Map<string, FakeSocket>();
  readonly gateway = new FakeGateway();
  readonly indexWrites: SessionRecord[] = [];
  /** What the session handed to its origin's reporter. */
  readonly outcomes: SessionOutcome[] = [];
  /** The running prompts' steps the session handed over (`progress` outcomes), in order. */
  readonly progress: SessionOutcome[] = [];
  /** Work the session asked to run later (`later`), fired by `advance` when its time comes. */
  private timers: { at: number; work: () => void }[] = [];
  /** The repository image lookup (`SessionPorts.repositoryImage`); by default no repository has one. */
  repositoryImage: (repositoryId: string, baseBranch: string) => Promise<string | null> = async () => null;
  /** Listing the sockets throws this many more times (a fault in the host, for failure tests). */
  socketListingFaults = 0;
  private pending: Promise<unknown>[] = [];
  readonly core: SessionCore;

  constructor() {
    const sql = nodeSql(this.db);
    this.core = new SessionCore({
      sql,
      now: () => this.now,
      sockets: () => {
        if (this.socketListingFaults > 0) {
          this.socketListingFaults -= 1;
          throw new Error("socket listing failed");
        }
        return [...this.sockets.values()].filter((socket) => !socket.closed);
      },
      gateway: this.gateway,
      index: { write: async (record) => void this.indexWrites.push(record) },
      armAlarm: (at) => {
        this.alarmAt = at;
      },
      defer: (work) => {
        this.pending.push(work);
      },
      secretsFor: async () => ({ API_TOKEN: "s3cret" }),
      publicUrl: "http://127.0.0.1:8787",
      reportOutcome: async (outcome) => void this.outcomes.push(outcome),
      reportProgress: async (outcome) => void this.progress.push(outcome),
      later: (delayMs, work) => void this.timers.push({ at: this.now + delayMs, work }),
      repositoryImage: (repositoryId, baseBranch) => this.repositoryImage(repositoryId, baseBranch),
    });
  }

  /** Lets deferred work (spawns, snapshots) finish. */
  async settle(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await Promise.allSettled(batch);
    }
  }

  /** Moves the clock forward and fires the alarm if it is due. */
  async advance(ms: number): Promise<void> {
    this.now += ms;
    const due = this.timers.filter((timer) => timer.at <= this.now);
    this.timers = this.timers.filter((timer) => timer.at > this.now);
    for (const timer of due) timer.work();
    if (this.alarmAt !== null && this.alarmAt <= this.now) this.core.onAlarm();
    await this.settle();
  }

  client(name: string): FakeSocket {
    const socket = new FakeSocket(`c-${name}-${this.sockets.size}`);
    this.sockets.set(socket.id, socket);
    this.core.onClientConnect(
      socket,
      { userId: name, name: name[0]!.toUpperCase() + name.slice(1), email: `${name}@example.com` },
      "member",
    );
    this.core.onClientMessage(socket, JSON.stringify({ type: "subscribe", afterSeq: 0 }));
    return socket;
  }

  /** Connects a bridge for the most recently requested sandbox and reports it ready. */
  bridge(): FakeSocket {
    const request = this.gateway.created.at(-1);
    if (!request) throw new Error("no sandbox was requested");
    const socket = new FakeSocket(`b-${this.sockets.size}`);
    this.sockets.set(socket.id, socket);
    this.core.onBridgeConnect(socket, request.sandboxId);
    socket.bseq = 0;
    socket.emit(this.core, { type: "bridge.ready" });
    return socket;
  }

  disconnect(socket: FakeSocket): void {
    socket.closed = true;
    this.core.onClose(socket);
  }

  create(prompt: string | null = null, origin?: SessionOrigin) {
    return this.core.create(
      {
        id: "ses_test",
        title: "Test",
        repository: { id: "repo1", kind: "local", fullName: "demo", path: "/srv/demo", cloneUrl: null },
        baseBranch: "main",
        model: "scripted/demo",
        reasoningEffort: null,
        owner: { userId: "alice", name: "Alice", email: "alice@example.com" },
        parentSessionId: null,
        origin,
      },
      prompt ? { requestId: "first", text: prompt } : null,
    );
  }

  eventTypes(): string[] {
    return this.core.eventsAfter(0, 10_000).events.map((event) => event.payload.type);
  }

  lifecycle = LIFECYCLE;
}

export class FakeSocket implements Socket {
  private current: ConnectionState | null = null;
  readonly sent: unknown[] = [];
  closed = false;
  closeCode: number | null = null;
  bseq = 0;

  constructor(readonly id: string) {}

  state(): ConnectionState | null {
    return this.current;
  }

  setState(state: ConnectionState): void {
    this.current = structuredClone(state);
  }

  send(text: string): void {
    if (this.closed) throw new Error("socket closed");
    this.sent.push(JSON.parse(text));
  }

  close(code: number): void {
    this.closed = true;
    this.closeCode = code;
  }

  messages<T = ServerMessage | SessionCommand>(type: string): T[] {
    return this.sent.filter((message): message is T => (message as { type: string }).type === type);
  }

  /** Sends a bridge event with the next bridge sequence number. */
  emit(core: SessionCore, event: Record<string, unknown>): void {
    core.onBridgeMessage(this, JSON.stringify({ type: "bridge.event", bseq: ++this.bseq, event }));
  }
}

export class FakeGateway implements SandboxGateway {
  readonly created: CreateSandboxRequest[] = [];
  readonly terminated: string[] = [];
  readonly snapshots: string[] = [];
  failures: ("transient" | "permanent")[] = [];
  snapshotStopsSandbox = false;
  /** Creates are answered as served from the warm pool. */
  warm = false;

  async create(request: CreateSandboxRequest) {
    const failure = this.failures.shift();
    if (failure)
      throw new GatewayError(
        failure === "transient",
        failure === "transient" ? "PROVIDER_TRANSIENT" : "PROVIDER_PERMANENT",
        `${failure} failure`,
      );
    this.created.push(request);
    return {
      sandboxId: request.sandboxId,
      provider: "fake",
      providerId: `p-${request.sandboxId}`,
      status: "starting" as const,
      snapshotStopsSandbox: this.snapshotStopsSandbox,
      ...(this.warm ? { warm: true } : {}),
    };
  }

  /** Each snapshot gets a new id, as a provider's do: `snap-<sandbox>-<n>`. */
  async snapshot(sandboxId: string) {
    this.snapshots.push(sandboxId);
    return `snap-${sandboxId}-${this.snapshots.filter((id) => id === sandboxId).length}`;
  }

  async terminate(sandboxId: string) {
    this.terminated.push(sandboxId);
  }

  readonly deletedSnapshots: string[] = [];
  /** Refusals for the next deletions, in order (`CONFLICT`: a sandbox still runs from it). */
  deleteFailures: string[] = [];

  async deleteSnapshot(snapshotId: string) {
    const failure = this.deleteFailures.shift();
    if (failure) throw new GatewayError(false, failure, `${failure} while deleting ${snapshotId}`);
    this.deletedSnapshots.push(snapshotId);
  }
}
