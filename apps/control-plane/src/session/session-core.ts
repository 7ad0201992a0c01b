import { createHash } from "node:crypto";
import {
  type Author,
  BridgeMessage,
  type BridgeEventPayload,
  ClientMessage,
  type ArtifactEvent,
  type EventPayload,
  gitAuthorFor,
  LookoutError,
  type ModelRef,
  type ParticipantRole,
  parseFrame,
  type QueuedPrompt,
  type ReasoningEffort,
  type SandboxStatus,
  type ServerMessage,
  type SessionCommand,
  type SessionDetail,
  type SessionEvent,
  type SessionState,
  type SessionStatus,
  timingSafeEqual,
  typesOf,
} from "@lookout/protocol";
import { log } from "../log";
import { Deadlines, type DeadlineName } from "./deadlines";
import { EventLog } from "./event-log";
import { GatewayError, type SandboxGateway } from "./gateway-client";
import { newId } from "./ids";
import { circuitOpen, decideSpawn, isLive, LIFECYCLE, type LifecycleConfig, spawnRetryDelayMs } from "./lifecycle";
import { type ClientConnectionState, ConnectionState, presenceOf, TYPING_TTL_MS } from "./presence";
import { PromptQueue } from "./prompt-queue";
import { PushApprovals } from "./push-approvals";
import { SandboxStore } from "./sandbox-store";
import { migrate } from "./schema";
import { mintSandboxToken, SandboxSecrets } from "./secret-values";
import { type SessionRecord, type SessionRepository, SessionStore, toState } from "./session-store";
import type { Sql } from "./sql";

/** Events sent per frame when replaying history to a subscriber. */
export const REPLAY_BATCH_SIZE = 500;

/** Close codes the session uses; 44xx mirror HTTP statuses so peers can tell them apart. */
export const CLOSE = {
  unauthorized: 4401,
  superseded: 4409,
  gone: 4410,
  /** The bridge should reconnect later and re-send what was not acknowledged. */
  unavailable: 4503,
} as const;

/** One WebSocket as the core sees it: an id, its validated state, and a way to talk to it. */
export interface Socket {
  readonly id: string;
  state(): ConnectionState | null;
  setState(state: ConnectionState): void;
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** Writes the session's row in the shared D1 index; failures are logged, never fatal. */
export interface SessionIndex {
  write(record: SessionRecord, lastActivityAt: number): Promise<void>;
}

export interface SessionPorts {
  sql: Sql;
  now(): number;
  sockets(): Iterable<Socket>;
  gateway: SandboxGateway;
  index: SessionIndex;
  /** Arms the single alarm for `at`, or disarms it when `at` is null. */
  armAlarm(at: number | null): void;
  /** Keeps background work (spawns, index writes) alive after the current request returns. */
  defer(work: Promise<unknown>): void;
  secretsFor(repositoryId: string): Promise<Record<string, string>>;
  publicUrl: string;
  lifecycle?: LifecycleConfig;
  /**
   * Called after the bridge pushed the session's branch, so an open pull request follows it;
   * resolves with the updated pull request's artifact, if there is one.
   */
  onBranchPushed?(session: SessionRecord, headSha: string): Promise<ArtifactEvent | null>;
}

/** What source control needs to know about a session (credentials, pull requests). */
export interface ScmContext {
  session: SessionRecord;
  /** The author of the running prompt, who a pull request the agent opens is for. */
  currentAuthor: Author | null;
  /** A commit a participant approved recently, which may carry workflow changes. */
  approvedWorkflowSha: string | null;
}

export interface CreateSessionInput {
  id: string;
  title: string;
  repository: SessionRepository;
  baseBranch: string;
  model: ModelRef;
  reasoningEffort: ReasoningEffort | null;
  owner: Author;
  parentSessionId: string | null;
}

export interface PromptInput {
  requestId: string | null;
  text: string;
  model?: ModelRef | undefined;
  reasoningEffort?: ReasoningEffort | undefined;
}

const CLIENT_TYPES = typesOf(ClientMessage);
const BRIDGE_TYPES = typesOf(BridgeMessage);

/**
 * Everything a session does, free of Cloudflare APIs: the Durable Object wires its storage,
 * sockets and alarm into these ports and forwards each entry point here. Every public method
 * leaves the alarm armed for the earliest deadline.
 */
export class SessionCore {
  private readonly session: SessionStore;
  private readonly events: EventLog;
  private readonly queue: PromptQueue;
  private readonly sandbox: SandboxStore;
  private readonly deadlines: Deadlines;
  private readonly lifecycle: LifecycleConfig;
  private readonly approvals: PushApprovals;
  private readonly secrets: SandboxSecrets;

  constructor(private readonly ports: SessionPorts) {
    migrate(ports.sql);
    this.session = new SessionStore(ports.sql);
    this.events = new EventLog(ports.sql);
    this.queue = new PromptQueue(ports.sql);
    this.sandbox = new SandboxStore(ports.sql);
    this.deadlines = new Deadlines(ports.sql);
    this.approvals = new PushApprovals(ports.sql);
    this.lifecycle = ports.lifecycle ?? LIFECYCLE;
    this.secrets = new SandboxSecrets(
      (repositoryId) => ports.secretsFor(repositoryId),
      (work) => ports.defer(work),
    );
  }

  // ---------------------------------------------------------------- queries

  exists(): boolean {
    return this.session.get() !== null;
  }

  sessionRecord(): SessionRecord | null {
    return this.session.get();
  }

  state(): SessionState {
    return toState(this.requireSession(), this.sandbox.status());
  }

  detail(viewerId: string | null = null): SessionDetail {
    return {
      session: this.state(),
      role: viewerId ? this.session.roleOf(viewerId) : null,
      queue: this.queue.active(),
      presence: this.presence(),
      latestSeq: this.events.latestSeq(),
    };
  }

  eventsAfter(afterSeq: number, limit: number): { events: SessionEvent[]; latestSeq: number } {
    this.requireSession();
    return { events: this.events.after(afterSeq, limit), latestSeq: this.events.latestSeq() };
  }

  participants() {
    this.requireSession();
    return this.session.participants();
  }

  roleOf(userId: string): ParticipantRole | null {
    return this.session.roleOf(userId);
  }

  scmContext(): ScmContext {
    return {
      session: this.requireSession(),
      currentAuthor: this.queue.running()?.author ?? null,
      approvedWorkflowSha: this.approvals.approvedSha(this.ports.now()),
    };
  }

  /** Records (or updates, by its id) an artifact such as a pull request. */
  recordArtifact(artifact: ArtifactEvent): void {
    this.requireSession();
    this.record(artifact);
    this.finish();
  }

  /** A participant approves or rejects a held-back push; the bridge is told either way. */
  decidePush(author: Author, approvalId: string, decision: "approve" | "reject"): void {
    this.requireSession();
    const role = this.session.roleOf(author.userId);
    if (role === "viewer") throw new LookoutError("FORBIDDEN", "Viewers cannot approve pushes.");
    const record = this.approvals.decide(approvalId, decision, author, this.ports.now());
    this.recordApproval(record);
    this.sendToBridge({ type: "command.push.decided", approvalId, headSha: record.headSha, decision });
    this.finish();
  }

  // ---------------------------------------------------------------- commands (RPC)

  /** Creates the session; calling it again with the same id returns the existing state. */
  create(input: CreateSessionInput, firstPrompt: PromptInput | null): { state: SessionState; promptId: string | null } {
    const now = this.ports.now();
    if (!this.session.get()) {
      this.session.create({
        id: input.id,
        title: input.title,
        repository: input.repository,
        baseBranch: input.baseBranch,
        branch: `lookout/${input.id}`,
        model: input.model,
        reasoningEffort: input.reasoningEffort,
        status: "created",
        archived: false,
        owner: input.owner,
        parentSessionId: input.parentSessionId,
        costUsd: 0,
        createdAt: now,
        updatedAt: now,
      });
      this.session.addParticipant(input.owner, "owner", now);
      this.record({
        type: "session.created",
        title: input.title,
        repositoryId: input.repository.id,
        baseBranch: input.baseBranch,
        model: input.model,
        ...(input.reasoningEffort ? { reasoningEffort: input.reasoningEffort } : {}),
        owner: input.owner,
      });
    }
    const promptId = firstPrompt ? this.enqueuePrompt(input.owner, firstPrompt).promptId : null;
    this.touchIndex();
    this.finish();
    return { state: this.state(), promptId };
  }

  rename(author: Author, title: string): SessionState {
    const session = this.requireSession();
    if (session.title !== title) {
      this.session.update({ title }, this.ports.now());
      this.record({ type: "session.title", title, by: author });
      this.broadcastSession();
      this.touchIndex();
    }
    this.finish();
    return this.state();
  }

  join(author: Author, role: ParticipantRole): void {
    this.requireSession();
    if (this.session.addParticipant(author, role, this.ports.now())) {
      this.record({ type: "participant.joined", participant: author, role });
    }
    this.finish();
  }

  enqueuePrompt(author: Author, input: PromptInput): { promptId: string; duplicate: boolean } {
    const session = this.requireSession();
    if (session.archived) throw new LookoutError("SESSION_ARCHIVED");
    const now = this.ports.now();
    this.session.addParticipant(author, this.session.roleOf(author.userId) ?? "member", now);
    const { prompt, duplicate } = this.queue.enqueue(
      {
        id: newId("pmt", now),
        requestId: input.requestId,
        author,
        text: input.text,
        model: input.model ?? session.model,
        reasoningEffort: input.reasoningEffort ?? session.reasoningEffort,
      },
      now,
    );
    if (!duplicate) {
      this.record({
        type: "prompt.queued",
        promptId: prompt.promptId,
        author,
        text: prompt.text,
        model: prompt.model,
        ...(prompt.reasoningEffort ? { reasoningEffort: prompt.reasoningEffort } : {}),
      });
      this.broadcastQueue();
      this.advance();
      this.touchIndex();
    }
    this.finish();
    return { promptId: prompt.promptId, duplicate };
  }

  cancelPrompt(author: Author, promptId: string): QueuedPrompt {
    this.requireSession();
    const prompt = this.queue.cancel(promptId, this.ports.now());
    this.record({ type: "prompt.cancelled", promptId, by: author });
    this.broadcastQueue();
    this.finish();
    return prompt;
  }

  stop(author: Author): void {
    this.requireSession();
    const running = this.queue.running();
    if (!running) throw new LookoutError("NOTHING_RUNNING");
    this.record({ type: "stop.requested", promptId: running.promptId, by: author });
    if (this.sendToBridge({ type: "command.stop", promptId: running.promptId })) {
      this.deadlines.set("stop-confirmation", this.ports.now() + this.lifecycle.stopConfirmationMs);
    } else {
      this.finishPrompt(running.promptId, "stopped", "Stopped before the sandbox picked it up.");
    }
    this.finish();
  }

  setArchived(author: Author, archived: boolean): SessionState {
    const session = this.requireSession();
    if (session.archived !== archived) {
      this.session.update({ archived }, this.ports.now());
      this.record(archived ? { type: "session.archived", by: author } : { type: "session.unarchived", by: author });
      if (archived) {
        for (const prompt of this.queue.active()) {
          if (prompt.status === "pending") this.queue.cancel(prompt.promptId, this.ports.now());
        }
        if (this.queue.running()) this.stop(author);
        this.broadcastQueue();
        this.deadlines.set("inactivity", this.ports.now());
      }
      this.broadcastSession();
      this.touchIndex();
    }
    this.finish();
    return this.state();
  }

  /** Checks a bridge's credentials before its WebSocket is accepted. */
  authorizeBridge(sandboxId: string, token: string): "ok" | "unauthorized" | "gone" {
    const sandbox = this.sandbox.get();
    if (!sandbox || sandbox.sandboxId !== sandboxId) return "unauthorized";
    if (!timingSafeEqual(sandbox.tokenHash, sha256(token))) return "unauthorized";
    return isLive(sandbox.status) ? "ok" : "gone";
  }

  // ---------------------------------------------------------------- sockets

  onClientConnect(socket: Socket, author: Author, role: ParticipantRole): void {
    this.requireSession();
    const state: ClientConnectionState = { kind: "client", author, role, subscribed: false, status: "active", typingUntil: 0 };
    socket.setState(state);
    if (this.session.addParticipant(author, role, this.ports.now())) {
      this.record({ type: "participant.joined", participant: author, role });
    }
    this.finish();
  }

  onClientMessage(socket: Socket, raw: string | ArrayBuffer): void {
    const state = socket.state();
    if (state?.kind !== "client") return;
    let message: ClientMessage;
    try {
      message = parseFrame(ClientMessage, CLIENT_TYPES, raw);
    } catch (error) {
      this.replyError(socket, error, undefined);
      return;
    }
    try {
      this.handleClientMessage(socket, state, message);
    } catch (error) {
      this.replyError(socket, error, "requestId" in message ? message.requestId : undefined);
    }
    this.finish();
  }

  onBridgeConnect(socket: Socket, sandboxId: string): void {
    const sandbox = this.sandbox.get();
    if (!sandbox || sandbox.sandboxId !== sandboxId || !isLive(sandbox.status)) {
      socket.close(CLOSE.gone, "This sandbox is no longer the session's sandbox.");
      return;
    }
    for (const other of this.ports.sockets()) {
      if (other.id !== socket.id && other.state()?.kind === "bridge")
        other.close(CLOSE.superseded, "A newer bridge connection replaced this one.");
    }
    socket.setState({ kind: "bridge", sandboxId });
    const now = this.ports.now();
    this.sandbox.update({ lastHeartbeat: now }, now);
    this.deadlines.set("heartbeat", now + this.lifecycle.heartbeatTimeoutMs);
    this.send(socket, { type: "bridge.welcome", lastBseq: sandbox.lastBseq });
    this.advance();
    this.finish();
  }

  onBridgeMessage(socket: Socket, raw: string | ArrayBuffer): void {
    const state = socket.state();
    const sandbox = this.sandbox.get();
    if (state?.kind !== "bridge" || !sandbox || state.sandboxId !== sandbox.sandboxId) {
      socket.close(CLOSE.gone, "This sandbox is no longer the session's sandbox.");
      return;
    }
    const redactor = this.secrets.redactorFor(sandbox.sandboxId);
    if (!redactor) {
      this.holdUntilRedactable(socket, raw, sandbox.sandboxId);
      return;
    }
    let message: BridgeMessage;
    try {
      message = parseFrame(BridgeMessage, BRIDGE_TYPES, raw);
    } catch (error) {
      this.replyError(socket, error, undefined);
      return;
    }
    const now = this.ports.now();
    let lastBseq = sandbox.lastBseq;
    if (message.type === "bridge.heartbeat") {
      if (lastBseq > 0) this.send(socket, { type: "bridge.ack", bseq: lastBseq });
    } else if (message.bseq <= lastBseq) {
      // A re-send of something already stored: acknowledge again so the bridge can forget it.
      this.send(socket, { type: "bridge.ack", bseq: message.bseq });
    } else {
      lastBseq = message.bseq;
      try {
        // The one place bridge events enter the session: what the log and its watchers see is redacted.
        this.applyBridgeEvent(redactor.redactEvent(message.event));
        this.send(socket, { type: "bridge.ack", bseq: message.bseq });
      } catch (error) {
        // The event is refused and not stored; the bridge is told why and may not re-send it.
        this.replyError(socket, error, undefined);
      }
    }
    // Every frame proves the bridge alive. The heartbeat deadline itself is not moved here: when it
    // fires, the handler compares against `lastHeartbeat` and re-arms, which keeps the hot path to
    // one row write per frame instead of rescheduling the alarm for every streamed token.
    this.sandbox.update({ lastHeartbeat: now, lastBseq }, now);
    if (this.deadlines.get("heartbeat") === null) this.deadlines.set("heartbeat", now + this.lifecycle.heartbeatTimeoutMs);
    this.finish();
  }

  onClose(socket: Socket): void {
    const state = socket.state();
    if (state?.kind === "client") this.broadcastPresence(socket.id);
    if (state?.kind === "bridge" && state.sandboxId === this.sandbox.get()?.sandboxId && isLive(this.sandbox.status())) {
      // A bridge that dropped gets a short grace period to reconnect before its sandbox is retired.
      const graceEnds = this.ports.now() + this.lifecycle.reconnectGraceMs;
      this.deadlines.set("heartbeat", Math.min(this.deadlines.get("heartbeat") ?? graceEnds, graceEnds));
    }
    this.finish();
  }

  // ---------------------------------------------------------------- alarm

  onAlarm(): void {
    if (!this.exists()) return;
    const now = this.ports.now();
    for (const name of this.deadlines.takeDue(now)) this.handleDeadline(name, now);
    this.finish();
  }

  // ---------------------------------------------------------------- internals: clients

  private handleClientMessage(socket: Socket, state: ClientConnectionState, message: ClientMessage): void {
    switch (message.type) {
      case "subscribe":
        this.subscribe(socket, state, message.afterSeq);
        return;
      case "prompt.send": {
        if (state.role === "viewer") throw new LookoutError("FORBIDDEN", "Viewers cannot send prompts.");
        const { promptId, duplicate } = this.enqueuePrompt(state.author, {
          requestId: message.requestId,
          text: message.text,
          model: message.model,
          reasoningEffort: message.reasoningEffort,
        });
        this.send(socket, { type: "prompt.accepted", requestId: message.requestId, promptId, duplicate });
        return;
      }
      case "prompt.cancel":
        if (state.role === "viewer") throw new LookoutError("FORBIDDEN", "Viewers cannot cancel prompts.");
        this.cancelPrompt(state.author, message.promptId);
        return;
      case "session.stop":
        if (state.role === "viewer") throw new LookoutError("FORBIDDEN", "Viewers cannot stop the agent.");
        this.stop(state.author);
        return;
      case "push.decide":
        if (state.role === "viewer") throw new LookoutError("FORBIDDEN", "Viewers cannot approve pushes.");
        this.decidePush(state.author, message.approvalId, message.decision);
        return;
      case "typing": {
        const typingUntil = message.typing ? this.ports.now() + TYPING_TTL_MS : 0;
        socket.setState({ ...state, typingUntil, status: "active" });
        this.broadcastPresence();
        if (message.typing && state.role !== "viewer") this.warm();
        return;
      }
      case "presence":
        socket.setState({ ...state, status: message.status });
        this.broadcastPresence();
        return;
      case "ping":
        this.send(socket, { type: "pong" });
        return;
      default:
        return message satisfies never;
    }
  }

  /**
   * Sends everything after `afterSeq`, then marks the socket live. All of it runs synchronously,
   * so no event can be appended between the last replayed row and the socket joining the live
   * stream: the subscriber sees every event exactly once.
   */
  private subscribe(socket: Socket, state: ClientConnectionState, afterSeq: number): void {
    if (state.subscribed) throw new LookoutError("CONFLICT", "This socket is already subscribed; open a new one to resubscribe.");
    const session = this.state();
    const latestSeq = this.events.latestSeq();
    this.send(socket, { type: "hello", connectionId: socket.id, participant: state.author, role: state.role, session, latestSeq });
    let cursor = Math.min(afterSeq, latestSeq);
    for (;;) {
      // Stored rows are already valid `SessionEvent` JSON, so frames are assembled from them directly.
      const batch = this.events.afterSerialized(cursor, REPLAY_BATCH_SIZE);
      if (batch.json.length === 0) break;
      safeSend(socket, `{"type":"events","replay":true,"events":[${batch.json.join(",")}]}`);
      cursor = batch.lastSeq;
    }
    socket.setState({ ...state, subscribed: true });
    this.send(socket, { type: "subscribed", latestSeq });
    this.send(socket, { type: "queue", prompts: this.queue.active() });
    this.broadcastPresence();
  }

  private replyError(socket: Socket, error: unknown, requestId: string | undefined): void {
    if (error instanceof LookoutError) {
      this.send(socket, { type: "error", code: error.code, message: error.message, ...(requestId ? { requestId } : {}) });
      return;
    }
    log.error("session message failed", { error });
    this.send(socket, {
      type: "error",
      code: "INTERNAL",
      message: "Something went wrong on our side. Try again.",
      ...(requestId ? { requestId } : {}),
    });
  }

  // ---------------------------------------------------------------- internals: bridge events

  /**
   * Bridge text may carry the sandbox's secrets, so a frame waits, in arrival order, until the
   * redactor for its sandbox exists (rebuilt after the object restarted). If it cannot be built the
   * bridge is disconnected and re-sends later: nothing is applied unredacted.
   */
  private holdUntilRedactable(socket: Socket, raw: string | ArrayBuffer, sandboxId: string): void {
    const held = this.secrets.hold(
      sandboxId,
      this.requireSession().repository.id,
      () => this.onBridgeMessage(socket, raw),
      (error) => {
        log.error("secrets for redaction could not be loaded; the bridge must re-send", { sandboxId, error: String(error) });
        this.closeBridges(CLOSE.unavailable, "The session could not load its secrets to hide them from the log; reconnect and re-send.");
      },
    );
    if (!held) this.closeBridges(CLOSE.unavailable, "Too many events arrived while the session loaded its secrets; reconnect and re-send.");
  }

  private applyBridgeEvent(event: BridgeEventPayload): void {
    switch (event.type) {
      case "bridge.ready": {
        const status = this.sandbox.status();
        if (status === "spawning" || status === "connecting") {
          const now = this.ports.now();
          this.sandbox.update({ status: "ready", spawnFailures: 0, lastError: null }, now);
          this.record({ type: "sandbox.status", status: "ready", sandboxId: this.sandbox.get()?.sandboxId });
          this.broadcastSession();
        }
        this.advance();
        return;
      }
      case "snapshot.ready":
        // The bridge's answer to `command.snapshot` names a git consistency point, not a provider
        // snapshot; provider snapshots come from the gateway, so there is nothing to store.
        return;
      case "prompt.finished":
        this.finishPrompt(event.promptId, event.status, event.error ?? null);
        return;
      case "step.finished": {
        this.requirePrompt(event.promptId);
        const session = this.requireSession();
        this.session.update({ costUsd: session.costUsd + event.costUsd }, this.ports.now());
        this.record(event);
        this.touchIndex();
        return;
      }
      case "message.text":
      case "tool.call":
      case "files.changed":
      case "git.commit":
        this.requirePrompt(event.promptId);
        this.record(event);
        return;
      case "artifact":
        this.record(event);
        return;
      case "git.push": {
        if (event.promptId) this.requirePrompt(event.promptId);
        this.record(event);
        const ports = this.ports;
        if (event.status === "pushed" && ports.onBranchPushed) {
          const session = this.requireSession();
          this.ports.defer(
            ports.onBranchPushed(session, event.headSha).then((artifact) => {
              if (artifact) this.recordArtifact(artifact);
            }),
          );
        }
        return;
      }
      case "push.approval.requested": {
        const { record, created } = this.approvals.request(event, this.ports.now());
        const decided = created ? this.approvals.decidedFor(event.headSha) : record.state === "pending" ? null : record;
        if (created) this.recordApproval(record);
        // The same commit was decided before (the bridge restarted and asks again): answer at once.
        if (decided)
          this.sendToBridge({
            type: "command.push.decided",
            approvalId: event.approvalId,
            headSha: event.headSha,
            decision: decided.state === "approved" ? "approve" : "reject",
          });
        return;
      }
      case "agent.error":
        if (event.promptId) this.requirePrompt(event.promptId);
        this.record(event);
        return;
      default:
        return event satisfies never;
    }
  }

  private requirePrompt(promptId: string): void {
    if (!this.queue.get(promptId)) throw new LookoutError("PROMPT_NOT_FOUND", `The bridge reported on unknown prompt ${promptId}.`);
  }

  private finishPrompt(promptId: string, status: "completed" | "failed" | "stopped", error: string | null): void {
    const finished = this.queue.finish(promptId, status, error, this.ports.now());
    if (!finished) return;
    this.record({ type: "prompt.finished", promptId, status, ...(error ? { error } : {}) });
    this.deadlines.clear("execution");
    this.deadlines.clear("stop-confirmation");
    const sandboxStatus = this.sandbox.status();
    if (sandboxStatus === "running") this.setSandboxStatus("idle");
    this.broadcastQueue();
    this.advance();
    const sandbox = this.sandbox.get();
    if (sandbox && isLive(sandbox.status) && !sandbox.snapshotStopsSandbox && !this.queue.running()) {
      // Saving the workspace after each prompt lets a replacement sandbox resume from this point.
      this.ports.defer(this.snapshotIdle(sandbox.sandboxId));
    }
  }

  private async snapshotIdle(sandboxId: string): Promise<void> {
    try {
      const snapshotId = await this.ports.gateway.snapshot(sandboxId);
      if (this.sandbox.get()?.sandboxId === sandboxId) this.sandbox.update({ snapshotId }, this.ports.now());
    } catch (error) {
      log.warn("snapshot after prompt failed", { sandboxId, error: String(error) });
    }
  }

  // ---------------------------------------------------------------- internals: lifecycle

  /** Moves the queue forward: start the next prompt, or bring up a sandbox for it. */
  private advance(): void {
    const session = this.requireSession();
    if (this.queue.running()) return this.setStatus("running");
    const next = this.queue.nextPending();
    const now = this.ports.now();
    if (!next) {
      if (isLive(this.sandbox.status()) && !this.deadlines.get("inactivity")) {
        this.deadlines.set("inactivity", now + this.lifecycle.inactivityTimeoutMs);
      }
      return this.setStatus(this.sandbox.status() === "none" || !isLive(this.sandbox.status()) ? idleOrCreated(session.status) : "idle");
    }
    const status = this.sandbox.status();
    if ((status === "ready" || status === "idle") && this.bridgeSocket()) {
      this.startPrompt(next);
      return;
    }
    this.setStatus("starting");
    this.spawn();
  }

  private startPrompt(prompt: QueuedPrompt): void {
    const now = this.ports.now();
    this.queue.start(prompt.promptId, now);
    this.record({ type: "prompt.started", promptId: prompt.promptId });
    this.deadlines.clear("inactivity");
    this.deadlines.set("execution", now + this.lifecycle.executionTimeoutMs);
    this.setSandboxStatus("running");
    this.setStatus("running");
    this.sendToBridge({
      type: "command.prompt",
      promptId: prompt.promptId,
      text: prompt.text,
      author: prompt.author,
      gitAuthor: gitAuthorFor(prompt.author),
      model: prompt.model,
      ...(prompt.reasoningEffort ? { reasoningEffort: prompt.reasoningEffort } : {}),
    });
    this.broadcastQueue();
  }

  /** Pre-warms a sandbox when someone starts typing. */
  private warm(): void {
    const session = this.requireSession();
    if (session.archived || isLive(this.sandbox.status())) return;
    this.spawn();
  }

  private spawn(): void {
    const session = this.requireSession();
    const current = this.sandbox.get();
    const now = this.ports.now();
    const decision = decideSpawn({
      sandboxStatus: current?.status ?? "none",
      archived: session.archived,
      spawnFailures: current?.spawnFailures ?? 0,
      lastFailureAt: current?.status === "failed" ? current.updatedAt : null,
      now,
      config: this.lifecycle,
    });
    if (!decision.spawn) return;
    const sandboxId = newId("sbx", now);
    const token = mintSandboxToken();
    const record = this.sandbox.replace(sandboxId, sha256(token), now);
    this.deadlines.set("heartbeat", now + this.lifecycle.connectTimeoutMs);
    this.deadlines.clear("spawn-retry");
    this.record({
      type: "sandbox.status",
      status: "spawning",
      sandboxId,
      ...(record.snapshotId ? { detail: "Restoring from the last snapshot." } : {}),
    });
    this.broadcastSession();
    this.ports.defer(this.launch(session, sandboxId, token, record.snapshotId));
  }

  private async launch(session: SessionRecord, sandboxId: string, token: string, snapshotId: string | null): Promise<void> {
    try {
      const env = await this.ports.secretsFor(session.repository.id);
      if (this.sandbox.get()?.sandboxId === sandboxId) this.secrets.remember(sandboxId, env, token);
      const info = await this.ports.gateway.create({
        sessionId: session.id,
        sandboxId,
        sandboxToken: token,
        controlPlaneUrl: this.ports.publicUrl,
        repository:
          session.repository.kind === "local" && session.repository.path
            ? { kind: "local", path: session.repository.path }
            : { kind: "remote", cloneUrl: session.repository.cloneUrl ?? `https://github.com/${session.repository.fullName}.git` },
        baseBranch: session.baseBranch,
        branch: session.branch,
        model: session.model,
        ...(snapshotId ? { snapshotId } : {}),
        env,
        timeoutMs: 2 * 3600_000,
      });
      const now = this.ports.now();
      if (this.sandbox.get()?.sandboxId !== sandboxId) {
        this.ports.defer(this.ports.gateway.terminate(sandboxId).catch(() => undefined));
        return;
      }
      const status = this.sandbox.status();
      this.sandbox.update(
        {
          provider: info.provider,
          providerId: info.providerId,
          snapshotStopsSandbox: info.snapshotStopsSandbox,
          ...(status === "spawning" ? { status: "connecting" as const } : {}),
        },
        now,
      );
      if (status === "spawning") this.record({ type: "sandbox.status", status: "connecting", sandboxId });
      this.broadcastSession();
    } catch (error) {
      this.onSpawnFailed(sandboxId, error);
    }
    this.finish();
  }

  private onSpawnFailed(sandboxId: string, error: unknown): void {
    const current = this.sandbox.get();
    if (!current || current.sandboxId !== sandboxId) return;
    const now = this.ports.now();
    const transient = error instanceof GatewayError ? error.transient : false;
    const message = error instanceof Error ? error.message : String(error);
    const failures = current.spawnFailures + 1;
    log.warn("sandbox spawn failed", { sandboxId, transient, failures, error: message });
    this.sandbox.update({ status: "failed", spawnFailures: failures, lastError: message }, now);
    this.deadlines.clear("heartbeat");
    this.record({ type: "sandbox.status", status: "failed", sandboxId, detail: message });
    if (circuitOpen(failures, now, now, this.lifecycle)) {
      this.record({
        type: "agent.error",
        code: "SANDBOX_UNAVAILABLE",
        message: `The sandbox failed to start ${failures} times in a row (last error: ${message}). Lookout will try again in ${Math.round(this.lifecycle.circuitBreakerCooldownMs / 60_000)} minutes; queued prompts are kept.`,
      });
      this.deadlines.set("spawn-retry", now + this.lifecycle.circuitBreakerCooldownMs);
    } else if (this.queue.nextPending()) {
      this.deadlines.set("spawn-retry", now + (transient ? spawnRetryDelayMs(failures, this.lifecycle) : this.lifecycle.spawnRetryBaseMs));
    }
    this.setStatus(this.queue.nextPending() ? "starting" : "failed");
    this.broadcastSession();
  }

  private handleDeadline(name: DeadlineName, now: number): void {
    const sandbox = this.sandbox.get();
    switch (name) {
      case "heartbeat": {
        if (!sandbox || !isLive(sandbox.status)) return;
        const last = sandbox.lastHeartbeat ?? sandbox.createdAt;
        const limit =
          sandbox.lastHeartbeat === null
            ? this.lifecycle.connectTimeoutMs
            : this.bridgeSocket()
              ? this.lifecycle.heartbeatTimeoutMs
              : this.lifecycle.reconnectGraceMs;
        if (now - last < limit) {
          this.deadlines.set("heartbeat", last + limit);
          return;
        }
        this.loseSandbox(
          sandbox.lastHeartbeat === null
            ? "The sandbox never connected."
            : this.bridgeSocket()
              ? "The sandbox stopped sending heartbeats."
              : "The sandbox's bridge disconnected and did not come back.",
        );
        return;
      }
      case "execution": {
        const running = this.queue.running();
        if (!running) return;
        this.record({
          type: "agent.error",
          promptId: running.promptId,
          code: "EXECUTION_TIMEOUT",
          message: "The prompt ran past the execution time limit and is being stopped.",
        });
        if (this.sendToBridge({ type: "command.stop", promptId: running.promptId })) {
          this.deadlines.set("stop-confirmation", now + this.lifecycle.stopConfirmationMs);
        } else {
          this.finishPrompt(running.promptId, "failed", "Execution timed out.");
        }
        return;
      }
      case "stop-confirmation": {
        const running = this.queue.running();
        if (!running) return;
        this.finishPrompt(running.promptId, "stopped", "The sandbox did not confirm the stop in time; it was replaced.");
        this.loseSandbox("The sandbox did not respond to a stop request.");
        return;
      }
      case "inactivity": {
        if (this.queue.running() || this.queue.nextPending()) return;
        if (!sandbox || !isLive(sandbox.status)) return;
        this.setSandboxStatus("snapshotting");
        this.ports.defer(this.hibernateSandbox(sandbox.sandboxId));
        return;
      }
      case "spawn-retry":
        this.advance();
        return;
      default:
        return name satisfies never;
    }
  }

  /** Snapshots an idle sandbox and stops it; the next prompt restores the snapshot. */
  private async hibernateSandbox(sandboxId: string): Promise<void> {
    let snapshotId: string | null = null;
    try {
      snapshotId = await this.ports.gateway.snapshot(sandboxId);
    } catch (error) {
      log.warn("snapshot before stop failed", { sandboxId, error: String(error) });
    }
    await this.ports.gateway
      .terminate(sandboxId)
      .catch((error: unknown) => log.warn("terminate failed", { sandboxId, error: String(error) }));
    const current = this.sandbox.get();
    if (!current || current.sandboxId !== sandboxId) return;
    this.sandbox.update({ status: "stopped", ...(snapshotId ? { snapshotId } : {}) }, this.ports.now());
    this.deadlines.clear("heartbeat");
    this.record({
      type: "sandbox.status",
      status: "stopped",
      sandboxId,
      detail: snapshotId ? "Stopped after inactivity; the workspace was saved." : "Stopped after inactivity.",
    });
    this.closeBridges(CLOSE.gone, "The sandbox was stopped.");
    this.broadcastSession();
    this.advance();
    this.finish();
  }

  /** The sandbox is gone or unresponsive: retire it, settle its prompt, and let the queue move on. */
  private loseSandbox(reason: string): void {
    const sandbox = this.sandbox.get();
    if (!sandbox) return;
    this.sandbox.update({ status: "stale", lastError: reason }, this.ports.now());
    this.deadlines.clear("heartbeat");
    this.record({ type: "sandbox.status", status: "stale", sandboxId: sandbox.sandboxId, detail: reason });
    this.closeBridges(CLOSE.gone, reason);
    this.ports.defer(this.ports.gateway.terminate(sandbox.sandboxId).catch(() => undefined));
    // The agent may already have changed files for the running prompt, so it ends as failed
    // rather than silently re-running; the user decides whether to send it again.
    const running = this.queue.running();
    if (running) this.finishPrompt(running.promptId, "failed", `${reason} The prompt was interrupted.`);
    this.broadcastSession();
    this.advance();
  }

  // ---------------------------------------------------------------- internals: plumbing

  private recordApproval(record: ReturnType<PushApprovals["decide"]>): void {
    this.record({
      type: "push.approval",
      approvalId: record.approvalId,
      branch: record.branch,
      headSha: record.headSha,
      files: record.files,
      state: record.state,
      ...(record.decidedBy ? { decidedBy: record.decidedBy } : {}),
      ...(record.decidedAt ? { decidedAt: record.decidedAt } : {}),
    });
  }

  private record(payload: EventPayload): SessionEvent {
    const event = this.events.append(payload, this.ports.now());
    this.broadcast({ type: "events", events: [event], replay: false });
    return event;
  }

  private setStatus(status: SessionStatus): void {
    const session = this.requireSession();
    if (session.status === status) return;
    this.session.update({ status }, this.ports.now());
    this.broadcastSession();
    this.touchIndex();
  }

  private setSandboxStatus(status: SandboxStatus): void {
    const sandbox = this.sandbox.get();
    if (!sandbox || sandbox.status === status) return;
    this.sandbox.update({ status }, this.ports.now());
    this.broadcastSession();
  }

  /** Presence of every connected client, leaving out a socket that is closing. */
  private presence(excludeId?: string) {
    const clients: ClientConnectionState[] = [];
    for (const socket of this.ports.sockets()) {
      const state = socket.state();
      if (state?.kind === "client" && socket.id !== excludeId) clients.push(state);
    }
    return presenceOf(clients, this.ports.now());
  }

  private broadcastPresence(excludeId?: string): void {
    this.broadcast({ type: "presence", entries: this.presence(excludeId) });
  }

  private broadcastQueue(): void {
    this.broadcast({ type: "queue", prompts: this.queue.active() });
  }

  private broadcastSession(): void {
    this.broadcast({ type: "session", session: this.state() });
  }

  /** Sends to every subscribed client; the frame is serialized once. */
  private broadcast(message: ServerMessage): void {
    const text = JSON.stringify(message);
    for (const socket of this.ports.sockets()) {
      const state = socket.state();
      if (state?.kind === "client" && state.subscribed) safeSend(socket, text);
    }
  }

  private send(socket: Socket, message: ServerMessage | SessionCommand): void {
    safeSend(socket, JSON.stringify(message));
  }

  private bridgeSocket(): Socket | null {
    const sandbox = this.sandbox.get();
    if (!sandbox) return null;
    for (const socket of this.ports.sockets()) {
      const state = socket.state();
      if (state?.kind === "bridge" && state.sandboxId === sandbox.sandboxId) return socket;
    }
    return null;
  }

  private sendToBridge(command: SessionCommand): boolean {
    const socket = this.bridgeSocket();
    if (!socket) return false;
    this.send(socket, command);
    return true;
  }

  private closeBridges(code: number, reason: string): void {
    for (const socket of this.ports.sockets()) {
      if (socket.state()?.kind === "bridge") socket.close(code, reason);
    }
  }

  private touchIndex(): void {
    const session = this.session.get();
    if (!session) return;
    this.ports.defer(this.ports.index.write(session, this.ports.now()));
  }

  private finish(): void {
    this.ports.armAlarm(this.deadlines.earliest());
  }

  private requireSession(): SessionRecord {
    const session = this.session.get();
    if (!session) throw new LookoutError("SESSION_NOT_FOUND");
    return session;
  }
}

function idleOrCreated(status: SessionStatus): SessionStatus {
  return status === "created" ? "created" : status === "failed" ? "failed" : "idle";
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function safeSend(socket: Socket, text: string): void {
  try {
    socket.send(text);
  } catch (error) {
    // A socket that closed between listing and sending is cleaned up by its close handler.
    log.debug("send to a closing socket failed", { socketId: socket.id, error: String(error) });
  }
}

export { ConnectionState };
