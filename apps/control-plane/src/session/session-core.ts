import {
  type ArtifactEvent,
  type Author,
  LookoutError,
  type ParticipantRole,
  type QueuedPrompt,
  type SessionDetail,
  type SessionEvent,
  type SessionState,
} from "@lookout/protocol";
import { log } from "../log";
import { BridgeChannel } from "./bridge-channel";
import { ClientRouter } from "./client-router";
import { createContext, type SessionContext } from "./context";
import type { DeadlineName } from "./deadlines";
import type { CreateSessionInput, PromptInput, ScmContext, SessionPorts, Socket } from "./ports";
import { ProgressReporter } from "./progress-reporter";
import { PromptRunner } from "./prompt-runner";
import { actingRole, authorize } from "./roles";
import { SandboxSupervisor } from "./sandbox-supervisor";
import { ScmEvents } from "./scm-events";
import type { Participant, SessionRecord } from "./session-store";

export type { CreateSessionInput, PromptInput, ScmContext, SessionPorts, Socket } from "./ports";

/** A deadline whose handler failed is tried again this much later (its work was undone). */
export const DEADLINE_RETRY_MS = 5_000;

/**
 * Everything a session does, free of Cloudflare APIs: the Durable Object wires its storage, sockets
 * and alarm into the ports and forwards each entry point here. This class only wires the modules
 * together; every public method is an entry point and runs as one unit through the hub (one
 * transaction, outputs after commit, alarm re-armed).
 */
export class SessionCore {
  private readonly ctx: SessionContext;
  private readonly runner: PromptRunner;
  private readonly supervisor: SandboxSupervisor;
  private readonly scm: ScmEvents;
  private readonly bridge: BridgeChannel;
  private readonly clients: ClientRouter;

  constructor(ports: SessionPorts) {
    this.ctx = createContext(ports);
    this.runner = new PromptRunner(this.ctx, () => this.supervisor);
    this.supervisor = new SandboxSupervisor(this.ctx, () => this.runner);
    this.scm = new ScmEvents(this.ctx);
    this.bridge = new BridgeChannel(this.ctx, this.runner, this.supervisor, this.scm);
    this.clients = new ClientRouter(this.ctx, {
      enqueuePrompt: (author, input) => this.runner.enqueue(author, input),
      cancelPrompt: (author, promptId) => this.runner.cancel(author, promptId),
      stop: (author) => this.runner.stop(author),
      decidePush: (author, approvalId, decision) => this.scm.decidePush(author, approvalId, decision),
      warm: () => this.supervisor.warm(),
    });
    ProgressReporter.attach(this.ctx);
  }

  // ---------------------------------------------------------------- queries

  exists(): boolean {
    return this.ctx.session.get() !== null;
  }

  sessionRecord(): SessionRecord | null {
    return this.ctx.session.get();
  }

  state(): SessionState {
    return this.ctx.hub.state();
  }

  detail(viewerId: string | null = null): SessionDetail {
    return {
      session: this.state(),
      role: viewerId ? this.ctx.session.roleOf(viewerId) : null,
      queue: this.ctx.queue.active(),
      presence: this.ctx.hub.presence(),
      latestSeq: this.ctx.events.latestSeq(),
    };
  }

  eventsAfter(afterSeq: number, limit: number): { events: SessionEvent[]; latestSeq: number } {
    this.ctx.hub.requireSession();
    return { events: this.ctx.events.after(afterSeq, limit), latestSeq: this.ctx.events.latestSeq() };
  }

  participants(): Participant[] {
    this.ctx.hub.requireSession();
    return this.ctx.session.participants();
  }

  roleOf(userId: string): ParticipantRole | null {
    return this.ctx.session.roleOf(userId);
  }

  scmContext(): ScmContext {
    return this.scm.context();
  }

  /** Settles when the D1 index holds what the last committed change made the session look like. */
  indexSettled(): Promise<void> {
    return this.ctx.hub.indexSettled();
  }

  // ---------------------------------------------------------------- commands

  /** Creates the session; calling it again with the same id returns the existing state. */
  create(input: CreateSessionInput, firstPrompt: PromptInput | null): { state: SessionState; promptId: string | null } {
    return this.ctx.hub.run(() => {
      const { session, hub, ports } = this.ctx;
      const now = ports.now();
      if (!session.get()) {
        session.create({
          id: input.id,
          title: input.title,
          repository: input.repository,
          baseBranch: input.baseBranch,
          branch: input.branch ?? `lookout/${input.id}`,
          model: input.model,
          reasoningEffort: input.reasoningEffort,
          status: "created",
          archived: false,
          owner: input.owner,
          parentSessionId: input.parentSessionId,
          origin: input.origin ?? { kind: "api" },
          costUsd: 0,
          createdAt: now,
          updatedAt: now,
        });
        session.addParticipant(input.owner, "owner", now);
        hub.record({
          type: "session.created",
          title: input.title,
          repositoryId: input.repository.id,
          baseBranch: input.baseBranch,
          model: input.model,
          ...(input.reasoningEffort ? { reasoningEffort: input.reasoningEffort } : {}),
          owner: input.owner,
        });
        hub.touchIndex();
      }
      const promptId = firstPrompt ? this.runner.enqueue(input.owner, firstPrompt).promptId : null;
      return { state: this.state(), promptId };
    });
  }

  rename(author: Author, title: string): SessionState {
    return this.ctx.hub.run(() => {
      const { session, hub, ports } = this.ctx;
      const current = hub.requireSession();
      authorize(actingRole(session.roleOf(author.userId)), "session.rename");
      if (current.title !== title) {
        session.update({ title }, ports.now());
        hub.record({ type: "session.title", title, by: author });
        hub.broadcastSession();
        hub.touchIndex();
      }
      return this.state();
    });
  }

  enqueuePrompt(author: Author, input: PromptInput): { promptId: string; duplicate: boolean } {
    return this.ctx.hub.run(() => this.runner.enqueue(author, input));
  }

  cancelPrompt(author: Author, promptId: string): QueuedPrompt {
    return this.ctx.hub.run(() => this.runner.cancel(author, promptId));
  }

  stop(author: Author): void {
    this.ctx.hub.run(() => this.runner.stop(author));
  }

  setArchived(author: Author, archived: boolean): SessionState {
    return this.ctx.hub.run(() => {
      const { session, hub, deadlines, ports } = this.ctx;
      const current = hub.requireSession();
      authorize(actingRole(session.roleOf(author.userId)), "session.archive");
      if (current.archived !== archived) {
        session.update({ archived }, ports.now());
        hub.record(archived ? { type: "session.archived", by: author } : { type: "session.unarchived", by: author });
        if (archived) {
          this.runner.windDown(author);
          deadlines.set("inactivity", ports.now());
        }
        hub.broadcastSession();
        hub.touchIndex();
      }
      return this.state();
    });
  }

  /** The owner lets someone steer the session (`member`) or only watch it (`viewer`). */
  setRole(author: Author, participant: Author, role: Exclude<ParticipantRole, "owner">): Participant[] {
    return this.ctx.hub.run(() => {
      const { session, hub, ports } = this.ctx;
      hub.requireSession();
      authorize(actingRole(session.roleOf(author.userId)), "participant.role");
      if (session.roleOf(participant.userId) === "owner") throw new LookoutError("FORBIDDEN", "The session's owner keeps their role.");
      if (session.roleOf(participant.userId) !== role) {
        session.setRole(participant, role, ports.now());
        hub.record({ type: "participant.role", participant, role, by: author });
      }
      for (const socket of ports.sockets()) {
        const state = socket.state();
        if (state?.kind === "client" && state.author.userId === participant.userId) socket.setState({ ...state, role });
      }
      hub.broadcastPresence();
      return session.participants();
    });
  }

  recordArtifact(artifact: ArtifactEvent): void {
    this.ctx.hub.run(() => {
      this.ctx.hub.requireSession();
      this.scm.recordArtifact(artifact);
    });
  }

  decidePush(author: Author, approvalId: string, decision: "approve" | "reject"): void {
    this.ctx.hub.run(() => this.scm.decidePush(author, approvalId, decision));
  }

  authorizeBridge(sandboxId: string, token: string): "ok" | "unauthorized" | "gone" {
    return this.supervisor.authorizeBridge(sandboxId, token);
  }

  // ---------------------------------------------------------------- sockets

  onClientConnect(socket: Socket, author: Author, role: ParticipantRole): void {
    this.ctx.hub.run(() => this.clients.onConnect(socket, author, role));
  }

  onClientMessage(socket: Socket, raw: string | ArrayBuffer): void {
    this.ctx.hub.run(() => this.clients.onMessage(socket, raw));
  }

  onBridgeConnect(socket: Socket, sandboxId: string): void {
    this.ctx.hub.run(() => this.bridge.onConnect(socket, sandboxId));
  }

  onBridgeMessage(socket: Socket, raw: string | ArrayBuffer): void {
    this.ctx.hub.run(() => this.bridge.onMessage(socket, raw));
  }

  onClose(socket: Socket): void {
    this.ctx.hub.run(() => {
      this.clients.onClose(socket);
      this.bridge.onClose(socket);
    });
  }

  // ---------------------------------------------------------------- the alarm

  /**
   * Runs every due deadline, each as its own step: one whose handler throws has its work undone
   * and is set again a little later, so no deadline and no event is lost to a failure.
   */
  onAlarm(): void {
    if (!this.exists()) return;
    this.ctx.hub.run(() => {
      const now = this.ctx.ports.now();
      for (const name of this.ctx.deadlines.takeDue(now)) {
        try {
          this.ctx.hub.run(() => this.handleDeadline(name, now));
        } catch (error) {
          log.error("deadline handler failed; it will run again", { deadline: name, error });
          this.ctx.deadlines.set(name, now + DEADLINE_RETRY_MS);
        }
      }
    });
  }

  private handleDeadline(name: DeadlineName, now: number): void {
    switch (name) {
      case "heartbeat":
        return this.supervisor.onHeartbeatDeadline(now);
      case "execution":
        return this.runner.onExecutionDeadline(now);
      case "stop-confirmation":
        if (this.runner.onStopUnconfirmed()) this.supervisor.lose("The sandbox did not respond to a stop request.");
        return;
      case "inactivity":
        return this.supervisor.onInactivity();
      case "spawn-retry":
        return this.runner.advance();
      case "snapshot-cleanup":
        return this.supervisor.onSnapshotCleanupDeadline(now);
      default:
        return name satisfies never;
    }
  }
}
