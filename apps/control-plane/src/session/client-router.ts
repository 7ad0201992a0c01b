import { type Author, ClientMessage, LookoutError, type ParticipantRole, parseFrame, typesOf } from "@lookout/protocol";
import type { SessionContext } from "./context";
import type { PromptInput, Socket } from "./ports";
import { type ClientConnectionState, TYPING_TTL_MS } from "./presence";
import { replyError } from "./replies";
import { allows } from "./roles";

/** Events sent per frame when replaying history to a subscriber. */
const REPLAY_BATCH_SIZE = 500;

const CLIENT_TYPES = typesOf(ClientMessage);

/** The commands a client frame can reach; each checks the sender's role itself (`roles.ts`). */
export interface ClientCommands {
  enqueuePrompt(author: Author, input: PromptInput): { promptId: string; duplicate: boolean };
  cancelPrompt(author: Author, promptId: string): unknown;
  stop(author: Author): void;
  decidePush(author: Author, approvalId: string, decision: "approve" | "reject"): void;
  warm(): void;
}

/**
 * A client's socket: who it is, its subscription (replay, then live, with nothing missed or
 * doubled), presence and typing, and routing each frame to the command it asks for.
 */
export class ClientRouter {
  constructor(
    private readonly ctx: SessionContext,
    private readonly commands: ClientCommands,
  ) {}

  onConnect(socket: Socket, author: Author, role: ParticipantRole): void {
    const { hub, session, ports } = this.ctx;
    hub.requireSession();
    socket.setState({ kind: "client", author, role, subscribed: false, status: "active", typingUntil: 0 });
    if (session.addParticipant(author, role, ports.now())) hub.record({ type: "participant.joined", participant: author, role });
  }

  onMessage(socket: Socket, raw: string | ArrayBuffer): void {
    const state = socket.state();
    if (state?.kind !== "client") return;
    let message: ClientMessage;
    try {
      message = parseFrame(ClientMessage, CLIENT_TYPES, raw);
    } catch (error) {
      replyError(this.ctx.hub, socket, error, undefined);
      return;
    }
    try {
      // A refused command undoes whatever it began; the socket hears why.
      this.ctx.hub.run(() => this.route(socket, state, message));
    } catch (error) {
      replyError(this.ctx.hub, socket, error, "requestId" in message ? message.requestId : undefined);
    }
  }

  onClose(socket: Socket): void {
    if (socket.state()?.kind === "client") this.ctx.hub.broadcastPresence(socket.id);
  }

  private route(socket: Socket, state: ClientConnectionState, message: ClientMessage): void {
    const { hub, ports } = this.ctx;
    switch (message.type) {
      case "subscribe":
        return this.subscribe(socket, state, message.afterSeq);
      case "prompt.send": {
        const { requestId, text, model, reasoningEffort } = message;
        const { promptId, duplicate } = this.commands.enqueuePrompt(state.author, { requestId, text, model, reasoningEffort });
        hub.send(socket, { type: "prompt.accepted", requestId: message.requestId, promptId, duplicate });
        return;
      }
      case "prompt.cancel":
        this.commands.cancelPrompt(state.author, message.promptId);
        return;
      case "session.stop":
        return this.commands.stop(state.author);
      case "push.decide":
        return this.commands.decidePush(state.author, message.approvalId, message.decision);
      case "typing": {
        const typingUntil = message.typing ? ports.now() + TYPING_TTL_MS : 0;
        socket.setState({ ...state, typingUntil, status: "active" });
        hub.broadcastPresence();
        // Typing is a hint, not a command: someone who may not start the sandbox just shows as typing.
        if (message.typing && allows(this.ctx.session.roleOf(state.author.userId) ?? state.role, "sandbox.warm")) this.commands.warm();
        return;
      }
      case "presence":
        socket.setState({ ...state, status: message.status });
        hub.broadcastPresence();
        return;
      case "ping":
        hub.send(socket, { type: "pong" });
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
    const { hub, events, queue } = this.ctx;
    if (state.subscribed) throw new LookoutError("CONFLICT", "This socket is already subscribed; open a new one to resubscribe.");
    const session = hub.state();
    const latestSeq = events.latestSeq();
    hub.send(socket, { type: "hello", connectionId: socket.id, participant: state.author, role: state.role, session, latestSeq });
    let cursor = Math.min(afterSeq, latestSeq);
    for (;;) {
      // Stored rows are already valid `SessionEvent` JSON, so frames are assembled from them directly.
      const batch = events.afterSerialized(cursor, REPLAY_BATCH_SIZE);
      if (batch.json.length === 0) break;
      hub.sendText(socket, `{"type":"events","replay":true,"events":[${batch.json.join(",")}]}`);
      cursor = batch.lastSeq;
    }
    socket.setState({ ...state, subscribed: true });
    hub.send(socket, { type: "subscribed", latestSeq });
    hub.send(socket, { type: "queue", prompts: queue.active() });
    hub.broadcastPresence();
  }
}
