import { BridgeMessage, type BridgeEventPayload, parseFrame, SOCKET_CLOSE_CODES, typesOf } from "@lookout/protocol";
import { log } from "../log";
import type { SessionContext } from "./context";
import { isLive } from "./lifecycle";
import type { Socket } from "./ports";
import type { PromptRunner } from "./prompt-runner";
import { replyError } from "./replies";
import type { SandboxSupervisor } from "./sandbox-supervisor";
import type { ScmEvents } from "./scm-events";

const BRIDGE_TYPES = typesOf(BridgeMessage);

/**
 * The session's end of the bridge's socket: one connection per sandbox, frames numbered by `bseq`
 * and acknowledged once stored (a re-send is acknowledged again, never applied twice), heartbeats,
 * and the one place bridge events enter the session — redacted first.
 */
export class BridgeChannel {
  constructor(
    private readonly ctx: SessionContext,
    private readonly runner: PromptRunner,
    private readonly supervisor: SandboxSupervisor,
    private readonly scm: ScmEvents,
  ) {}

  onConnect(socket: Socket, sandboxId: string): void {
    const { sandbox: store, hub, deadlines, lifecycle, ports } = this.ctx;
    const sandbox = store.get();
    if (!sandbox || sandbox.sandboxId !== sandboxId || !isLive(sandbox.status)) {
      hub.close(socket, SOCKET_CLOSE_CODES.SANDBOX_RETIRED, "This sandbox is no longer the session's sandbox.");
      return;
    }
    for (const other of ports.sockets()) {
      if (other.id !== socket.id && other.state()?.kind === "bridge")
        hub.close(other, SOCKET_CLOSE_CODES.SUPERSEDED, "A newer bridge connection replaced this one.");
    }
    socket.setState({ kind: "bridge", sandboxId });
    const now = ports.now();
    store.update({ lastHeartbeat: now }, now);
    deadlines.set("heartbeat", now + lifecycle.heartbeatTimeoutMs);
    hub.send(socket, { type: "bridge.welcome", lastBseq: sandbox.lastBseq });
    this.runner.advance();
  }

  onMessage(socket: Socket, raw: string | ArrayBuffer): void {
    const { sandbox: store, hub, secrets, deadlines, lifecycle, ports } = this.ctx;
    const state = socket.state();
    const sandbox = store.get();
    if (state?.kind !== "bridge" || !sandbox || state.sandboxId !== sandbox.sandboxId) {
      hub.close(socket, SOCKET_CLOSE_CODES.SANDBOX_RETIRED, "This sandbox is no longer the session's sandbox.");
      return;
    }
    const redactor = secrets.redactorFor(sandbox.sandboxId);
    if (!redactor) {
      this.holdUntilRedactable(socket, raw, sandbox.sandboxId);
      return;
    }
    let message: BridgeMessage;
    try {
      message = parseFrame(BridgeMessage, BRIDGE_TYPES, raw);
    } catch (error) {
      replyError(hub, socket, error, undefined);
      return;
    }
    const now = ports.now();
    let lastBseq = sandbox.lastBseq;
    if (message.type === "bridge.heartbeat") {
      if (lastBseq > 0) hub.send(socket, { type: "bridge.ack", bseq: lastBseq });
    } else if (message.bseq <= lastBseq) {
      // A re-send of something already stored: acknowledge again so the bridge can forget it.
      hub.send(socket, { type: "bridge.ack", bseq: message.bseq });
    } else {
      try {
        // What the log and its watchers see is redacted; a refused event undoes all it began.
        const event = redactor.redactEvent(message.event);
        hub.run(() => this.apply(event));
        lastBseq = message.bseq;
        hub.send(socket, { type: "bridge.ack", bseq: message.bseq });
      } catch (error) {
        // The event is refused and not stored; the bridge is told why and may not re-send it.
        replyError(hub, socket, error, undefined);
      }
    }
    // Every frame proves the bridge alive. The heartbeat deadline itself is not moved here: when it
    // fires, the handler compares against `lastHeartbeat` and re-arms, which keeps the hot path to
    // one row write per frame instead of rescheduling the alarm for every streamed token.
    store.update({ lastHeartbeat: now, lastBseq }, now);
    if (deadlines.get("heartbeat") === null) deadlines.set("heartbeat", now + lifecycle.heartbeatTimeoutMs);
  }

  onClose(socket: Socket): void {
    const { sandbox, deadlines, lifecycle, ports } = this.ctx;
    const state = socket.state();
    if (state?.kind !== "bridge" || state.sandboxId !== sandbox.get()?.sandboxId || !isLive(sandbox.status())) return;
    // A bridge that dropped gets a short grace period to reconnect before its sandbox is retired.
    const graceEnds = ports.now() + lifecycle.reconnectGraceMs;
    deadlines.set("heartbeat", Math.min(deadlines.get("heartbeat") ?? graceEnds, graceEnds));
  }

  /**
   * Bridge text may carry the sandbox's secrets, so a frame waits, in arrival order, until the
   * redactor for its sandbox exists (rebuilt after the object restarted). If it cannot be built the
   * bridge is disconnected and re-sends later: nothing is applied unredacted.
   */
  private holdUntilRedactable(socket: Socket, raw: string | ArrayBuffer, sandboxId: string): void {
    const { hub, secrets } = this.ctx;
    const held = secrets.hold(
      sandboxId,
      hub.requireSession().repository.id,
      () => hub.run(() => this.onMessage(socket, raw)),
      (error) => {
        log.error("secrets for redaction could not be loaded; the bridge must re-send", { sandboxId, error: String(error) });
        hub.closeBridges(
          SOCKET_CLOSE_CODES.UNAVAILABLE,
          "The session could not load its secrets to hide them from the log; reconnect and re-send.",
        );
      },
    );
    if (!held) {
      hub.closeBridges(
        SOCKET_CLOSE_CODES.UNAVAILABLE,
        "Too many events arrived while the session loaded its secrets; reconnect and re-send.",
      );
    }
  }

  private apply(event: BridgeEventPayload): void {
    const { hub, session: store, ports } = this.ctx;
    switch (event.type) {
      case "bridge.ready":
        this.supervisor.onReady();
        return;
      case "prompt.finished":
        this.runner.finish(event.promptId, event.status, event.error ?? null);
        return;
      case "step.finished": {
        this.runner.requirePrompt(event.promptId);
        const session = hub.requireSession();
        store.update({ costUsd: session.costUsd + event.costUsd }, ports.now());
        hub.record(event);
        hub.touchIndex();
        return;
      }
      case "message.text":
      case "tool.call":
      case "files.changed":
      case "git.commit":
        this.runner.requirePrompt(event.promptId);
        hub.record(event);
        return;
      case "artifact":
        this.scm.recordArtifact(event);
        return;
      case "git.push":
        if (event.promptId) this.runner.requirePrompt(event.promptId);
        this.scm.onPush(event);
        return;
      case "push.approval.requested":
        this.scm.onApprovalRequested(event);
        return;
      case "agent.error":
        if (event.promptId) this.runner.requirePrompt(event.promptId);
        hub.record(event);
        return;
      case "sandbox.sync":
        hub.record(event);
        return;
      default:
        return event satisfies never;
    }
  }
}
