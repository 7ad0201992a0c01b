import { createHash } from "node:crypto";
import { isForkOrigin, isReadOnlyOrigin, SOCKET_CLOSE_CODES, timingSafeEqual } from "@lookout/protocol";
import { log } from "../log";
import type { SessionContext } from "./context";
import { heartbeatVerdict, planAfterSpawnFailure } from "./decisions";
import { GatewayError } from "./gateway-client";
import { newId } from "./ids";
import { decideSpawn, isLive } from "./lifecycle";
import type { PromptRunner, SandboxControl } from "./prompt-runner";
import { RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS, RETIRED_SNAPSHOT_MAX_ATTEMPTS } from "./retired-snapshots";
import { mintSandboxToken } from "./secret-values";
import type { SessionRecord } from "./session-store";

/** How long a sandbox may live at most; the provider stops it after this even if the session forgets. */
const SANDBOX_MAX_LIFETIME_MS = 2 * 3600_000;
/** Retired snapshots whose deletion one alarm asks for; the rest wait for the next wake. */
const SNAPSHOT_DELETIONS_PER_WAKE = 10;

/**
 * The session's sandbox over its life: warm it when someone starts typing, spawn and launch it
 * through the gateway, judge its heartbeats, hibernate it (snapshot, then stop) when idle, and
 * retire it when it is lost. Asynchronous steps re-enter through the hub, one unit each.
 */
export class SandboxSupervisor implements SandboxControl {
  constructor(
    private readonly ctx: SessionContext,
    private readonly runner: () => PromptRunner,
  ) {}

  /** Pre-warms a sandbox when someone starts typing. */
  warm(): void {
    const session = this.ctx.hub.requireSession();
    if (session.archived || isLive(this.ctx.sandbox.status())) return;
    this.spawn();
  }

  spawn(): void {
    const { hub, sandbox: store, deadlines, lifecycle, ports } = this.ctx;
    const session = hub.requireSession();
    const current = store.get();
    const now = ports.now();
    const decision = decideSpawn({
      sandboxStatus: current?.status ?? "none",
      archived: session.archived,
      spawnFailures: current?.spawnFailures ?? 0,
      lastFailureAt: current?.status === "failed" ? current.updatedAt : null,
      now,
      config: lifecycle,
    });
    if (!decision.spawn) return;
    const sandboxId = newId("sbx", now);
    const token = mintSandboxToken();
    const record = store.replace(sandboxId, sha256(token), now);
    deadlines.set("heartbeat", now + lifecycle.connectTimeoutMs);
    deadlines.clear("spawn-retry");
    hub.record({
      type: "sandbox.status",
      status: "spawning",
      sandboxId,
      ...(record.snapshotId ? { detail: "Restoring from the last snapshot." } : {}),
    });
    hub.broadcastSession();
    hub.defer(() => this.launch(session, sandboxId, token, record.snapshotId));
  }

  /** Checks a bridge's credentials before its WebSocket is accepted. */
  authorizeBridge(sandboxId: string, token: string): "ok" | "unauthorized" | "gone" {
    const sandbox = this.ctx.sandbox.get();
    if (!sandbox || sandbox.sandboxId !== sandboxId) return "unauthorized";
    if (!timingSafeEqual(sandbox.tokenHash, sha256(token))) return "unauthorized";
    return isLive(sandbox.status) ? "ok" : "gone";
  }

  /** The bridge said it is ready: the sandbox can take prompts. */
  onReady(): void {
    const { hub, sandbox } = this.ctx;
    const status = sandbox.status();
    if (status === "spawning" || status === "connecting") {
      sandbox.update({ status: "ready", spawnFailures: 0, lastError: null }, this.ctx.ports.now());
      hub.record({ type: "sandbox.status", status: "ready", sandboxId: sandbox.get()?.sandboxId });
      hub.broadcastSession();
    }
    this.runner().advance();
  }

  snapshotAfterPrompt(): void {
    const sandbox = this.ctx.sandbox.get();
    // Saving the workspace after each prompt lets a replacement sandbox resume from this point.
    if (sandbox && isLive(sandbox.status) && !sandbox.snapshotStopsSandbox) {
      const { sandboxId } = sandbox;
      this.ctx.hub.defer(() => this.snapshotIdle(sandboxId));
    }
  }

  onHeartbeatDeadline(now: number): void {
    const { sandbox: store, deadlines, lifecycle, hub } = this.ctx;
    const sandbox = store.get();
    if (!sandbox || !isLive(sandbox.status)) return;
    const verdict = heartbeatVerdict(sandbox, hub.bridgeSocket() !== null, now, lifecycle);
    if (verdict.kind === "alive") deadlines.set("heartbeat", verdict.recheckAt);
    else this.lose(verdict.reason);
  }

  onInactivity(): void {
    const { queue, sandbox: store, hub } = this.ctx;
    if (queue.running() || queue.nextPending()) return;
    const sandbox = store.get();
    if (!sandbox || !isLive(sandbox.status)) return;
    hub.setSandboxStatus("snapshotting");
    const { sandboxId } = sandbox;
    hub.defer(() => this.hibernate(sandboxId));
  }

  /** The sandbox is gone or unresponsive: retire it, settle its prompt, and let the queue move on. */
  lose(reason: string): void {
    const { sandbox: store, deadlines, hub, ports } = this.ctx;
    const sandbox = store.get();
    if (!sandbox) return;
    store.update({ status: "stale", lastError: reason }, ports.now());
    deadlines.clear("heartbeat");
    hub.record({ type: "sandbox.status", status: "stale", sandboxId: sandbox.sandboxId, detail: reason });
    hub.closeBridges(SOCKET_CLOSE_CODES.SANDBOX_RETIRED, reason);
    hub.defer(() => ports.gateway.terminate(sandbox.sandboxId).catch(() => undefined));
    this.runner().interrupt(reason);
    hub.broadcastSession();
    this.runner().advance();
  }

  private async launch(session: SessionRecord, sandboxId: string, token: string, snapshotId: string | null): Promise<void> {
    const { ports, secrets, sandbox: store, hub } = this.ctx;
    try {
      // A fork's pull request is someone else's code: its sandbox never sees the repository's secrets.
      const env = isForkOrigin(session.origin) ? {} : await ports.secretsFor(session.repository.id);
      if (store.get()?.sandboxId === sandboxId) secrets.remember(sandboxId, env, token);
      // The session's own snapshot wins; otherwise the repository's newest image, looked up here,
      // outside any transaction (the sandbox then catches up with the base while the agent reads).
      const imageSnapshotId = snapshotId ? null : await this.imageFor(session);
      const source = snapshotId ?? imageSnapshotId;
      const info = await ports.gateway.create({
        sessionId: session.id,
        sandboxId,
        sandboxToken: token,
        controlPlaneUrl: ports.publicUrl,
        repository:
          session.repository.kind === "local" && session.repository.path
            ? { kind: "local", path: session.repository.path }
            : { kind: "remote", cloneUrl: session.repository.cloneUrl ?? `https://github.com/${session.repository.fullName}.git` },
        readOnly: isReadOnlyOrigin(session.origin),
        baseBranch: session.baseBranch,
        branch: session.branch,
        model: session.model,
        ...(source ? { snapshotId: source } : {}),
        ...(imageSnapshotId ? { fromImage: true } : {}),
        env,
        timeoutMs: SANDBOX_MAX_LIFETIME_MS,
      });
      hub.run(() => {
        if (store.get()?.sandboxId !== sandboxId) {
          hub.defer(() => ports.gateway.terminate(sandboxId).catch(() => undefined));
          return;
        }
        const status = store.status();
        store.update(
          {
            provider: info.provider,
            providerId: info.providerId,
            snapshotStopsSandbox: info.snapshotStopsSandbox,
            ...(status === "spawning" ? { status: "connecting" as const } : {}),
          },
          ports.now(),
        );
        if (status === "spawning") {
          hub.record({
            type: "sandbox.status",
            status: "connecting",
            sandboxId,
            ...(info.warm
              ? { detail: "A warm sandbox took the session." }
              : imageSnapshotId
                ? { detail: "Started from the repository's image." }
                : {}),
          });
        }
        hub.broadcastSession();
      });
    } catch (error) {
      hub.run(() => this.onSpawnFailed(sandboxId, error));
    }
  }

  /** The repository's newest image for the session's base branch; a failed lookup only means cloning. */
  private async imageFor(session: SessionRecord): Promise<string | null> {
    const lookup = this.ctx.ports.repositoryImage;
    if (!lookup) return null;
    try {
      return await lookup(session.repository.id, session.baseBranch);
    } catch (error) {
      log.warn("repository image lookup failed; the sandbox clones", { sessionId: session.id, error: String(error) });
      return null;
    }
  }

  private onSpawnFailed(sandboxId: string, error: unknown): void {
    const { sandbox: store, deadlines, hub, queue, lifecycle, ports } = this.ctx;
    const current = store.get();
    if (!current || current.sandboxId !== sandboxId) return;
    const now = ports.now();
    const transient = error instanceof GatewayError ? error.transient : false;
    const message = error instanceof Error ? error.message : String(error);
    const failures = current.spawnFailures + 1;
    log.warn("sandbox spawn failed", { sandboxId, transient, failures, error: message });
    store.update({ status: "failed", spawnFailures: failures, lastError: message }, now);
    deadlines.clear("heartbeat");
    hub.record({ type: "sandbox.status", status: "failed", sandboxId, detail: message });
    const promptsWaiting = queue.nextPending() !== null;
    const plan = planAfterSpawnFailure({ failures, transient, promptsWaiting, now, lifecycle });
    if (plan.kind === "breaker-open") {
      hub.record({
        type: "agent.error",
        code: "SANDBOX_UNAVAILABLE",
        message: `The sandbox failed to start ${failures} times in a row (last error: ${message}). Lookout will try again in ${Math.round(lifecycle.circuitBreakerCooldownMs / 60_000)} minutes; queued prompts are kept.`,
      });
    }
    if (plan.kind !== "wait") deadlines.set("spawn-retry", plan.retryAt);
    hub.setStatus(promptsWaiting ? "starting" : "failed");
    hub.broadcastSession();
  }

  private async snapshotIdle(sandboxId: string): Promise<void> {
    const { ports, sandbox: store, hub } = this.ctx;
    try {
      const snapshotId = await ports.gateway.snapshot(sandboxId);
      hub.run(() => {
        const now = ports.now();
        const current = store.get();
        // Taken of a sandbox the session has replaced meanwhile: nothing will start from it.
        if (current?.sandboxId !== sandboxId) return this.retireSnapshot(snapshotId, now);
        store.update({ snapshotId }, now);
        this.replacedSnapshot(current.snapshotId, snapshotId, now);
      });
    } catch (error) {
      log.warn("snapshot after prompt failed", { sandboxId, error: String(error) });
    }
  }

  /**
   * The session keeps only its newest snapshot: the one `next` replaced is deleted from the
   * provider later (`retired-snapshots.ts`), never the current one.
   */
  private replacedSnapshot(previous: string | null, next: string, now: number): void {
    this.ctx.retiredSnapshots.keep(next);
    if (previous && previous !== next) this.retireSnapshot(previous, now);
  }

  private retireSnapshot(snapshotId: string, now: number, firstAttemptAt = now + RETIRED_SNAPSHOT_FIRST_ATTEMPT_MS): void {
    this.ctx.retiredSnapshots.retire(snapshotId, now, firstAttemptAt);
    this.armSnapshotCleanup();
  }

  private armSnapshotCleanup(): void {
    const next = this.ctx.retiredSnapshots.nextAttemptAt();
    if (next === null) this.ctx.deadlines.clear("snapshot-cleanup");
    else this.ctx.deadlines.set("snapshot-cleanup", next);
  }

  /** Asks the gateway to delete the retired snapshots that are due; each try's next one is already set. */
  onSnapshotCleanupDeadline(now: number): void {
    const { due, abandoned } = this.ctx.retiredSnapshots.takeDue(now, SNAPSHOT_DELETIONS_PER_WAKE);
    for (const snapshotId of abandoned) {
      log.error("a replaced snapshot could not be deleted; the provider keeps it", { snapshotId, attempts: RETIRED_SNAPSHOT_MAX_ATTEMPTS });
    }
    for (const snapshotId of due) this.ctx.hub.defer(() => this.deleteRetired(snapshotId));
    this.armSnapshotCleanup();
  }

  private async deleteRetired(snapshotId: string): Promise<void> {
    try {
      await this.ctx.ports.gateway.deleteSnapshot(snapshotId);
    } catch (error) {
      // CONFLICT: a sandbox still runs from it; anything else is tried again too, later.
      const code = error instanceof GatewayError ? error.code : "UNKNOWN";
      log[code === "CONFLICT" ? "info" : "warn"]("a replaced snapshot was not deleted yet; tried again later", { snapshotId, code });
      return;
    }
    this.ctx.hub.run(() => {
      this.ctx.retiredSnapshots.deleted(snapshotId);
      this.armSnapshotCleanup();
    });
  }

  /** Snapshots an idle sandbox and stops it; the next prompt restores the snapshot. */
  private async hibernate(sandboxId: string): Promise<void> {
    const { ports, sandbox: store, deadlines, hub } = this.ctx;
    let snapshotId: string | null = null;
    try {
      snapshotId = await ports.gateway.snapshot(sandboxId);
    } catch (error) {
      log.warn("snapshot before stop failed", { sandboxId, error: String(error) });
    }
    await ports.gateway.terminate(sandboxId).catch((error: unknown) => log.warn("terminate failed", { sandboxId, error: String(error) }));
    hub.run(() => {
      const now = ports.now();
      const current = store.get();
      if (!current || current.sandboxId !== sandboxId) {
        if (snapshotId) this.retireSnapshot(snapshotId, now, now);
        return;
      }
      store.update({ status: "stopped", ...(snapshotId ? { snapshotId } : {}) }, now);
      if (snapshotId) this.replacedSnapshot(current.snapshotId, snapshotId, now);
      // The sandbox is gone, so no snapshot the session retired is in use any more.
      this.ctx.retiredSnapshots.hurry(now);
      this.armSnapshotCleanup();
      deadlines.clear("heartbeat");
      hub.record({
        type: "sandbox.status",
        status: "stopped",
        sandboxId,
        detail: snapshotId ? "Stopped after inactivity; the workspace was saved." : "Stopped after inactivity.",
      });
      hub.closeBridges(SOCKET_CLOSE_CODES.SANDBOX_RETIRED, "The sandbox was stopped.");
      hub.broadcastSession();
      this.runner().advance();
    });
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
