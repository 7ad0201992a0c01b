import { randomUUID } from "node:crypto";
import type { BridgeEventPayload } from "@lookout/protocol";
import { z } from "zod";
import type { Clock } from "./clock";
import type { DeferredSync } from "./git";
import { errorMessage, type Logger } from "./logger";
import { isReadOnlyCommand } from "./sync-readonly";

/**
 * Read before sync (ADR 0015). A sandbox whose work tree already exists — from a repository image
 * or a snapshot — starts the agent at once and catches up with the remote meanwhile: the agent
 * reads and searches on the image's commit while `git fetch` and the fast-forward run, and every
 * file-writing tool call waits until they are done. OpenCode asks before each `edit` (its write,
 * edit and patch tools) and each `bash` command (`sandboxPermission` below); the bridge answers a
 * reading command at once and holds everything else until the sync has settled.
 *
 * A failed sync is reported (`sandbox.sync` `failed`) and releases the held writes too: the agent
 * then works on the image's commit, which is a commit of the base branch, only an older one.
 */

/** OpenCode's permissions while writes wait for the sync: writes and commands ask the bridge. */
export const SYNC_GATED_PERMISSION = { edit: "ask", bash: "ask" } as const;

/** How the sync ended: the commit the work tree stands on afterwards (before any write). */
export type SyncOutcome = { ok: true; head: string | undefined; behind: number } | { ok: false; head: string | undefined; error: string };

/**
 * Runs the deferred sync once, reporting it as one evolving `sandbox.sync` row: `started`, then
 * `finished` (with the commits the base had moved on) or `failed`.
 */
export class WorkTreeSync {
  readonly syncId = `sync_${randomUUID()}`;
  readonly settled: Promise<SyncOutcome>;
  private resolve!: (outcome: SyncOutcome) => void;
  private done = false;
  private started = false;
  private held = 0;

  constructor(
    private readonly options: {
      run: DeferredSync;
      /** HEAD now, for a failed sync's outcome. */
      head: () => Promise<string | undefined>;
      baseBranch: string;
      emit: (event: BridgeEventPayload) => void;
      clock: Clock;
      logger: Logger;
    },
  ) {
    this.settled = new Promise((resolve) => (this.resolve = resolve));
  }

  /** Whether the sync has settled (writes are no longer held). */
  get finished(): boolean {
    return this.done;
  }

  /** Counts a write that waited, for the `finished` row. */
  noteHeld(): void {
    this.held++;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const { run, baseBranch, emit, clock, logger } = this.options;
    const startedAt = clock.now();
    emit({ type: "sandbox.sync", syncId: this.syncId, phase: "started", baseBranch });
    logger.info("syncing the work tree with the remote while the agent reads", { baseBranch });
    void run().then(
      (result) => {
        const durationMs = clock.now() - startedAt;
        logger.info("work tree synced", { ...result, durationMs, heldWrites: this.held });
        this.settle(
          { ok: true, head: result.toSha, behind: result.behind },
          {
            type: "sandbox.sync",
            syncId: this.syncId,
            phase: "finished",
            baseBranch,
            ...(result.fromSha ? { fromSha: result.fromSha } : {}),
            ...(result.toSha ? { toSha: result.toSha } : {}),
            behind: result.behind,
            heldWrites: this.held,
            durationMs,
          },
        );
      },
      async (error: unknown) => {
        const message = errorMessage(error).slice(0, 2_000);
        logger.warn("syncing the work tree failed; writes go ahead on the commit it holds", { error: message });
        const head = await this.options.head().catch(() => undefined);
        this.settle(
          { ok: false, head, error: message },
          {
            type: "sandbox.sync",
            syncId: this.syncId,
            phase: "failed",
            baseBranch,
            ...(head ? { fromSha: head, toSha: head } : {}),
            heldWrites: this.held,
            durationMs: clock.now() - startedAt,
            error: message,
          },
        );
      },
    );
  }

  /** The row goes out before the held writes are let through, so the timeline shows them after it. */
  private settle(outcome: SyncOutcome, event: BridgeEventPayload): void {
    this.done = true;
    this.options.emit(event);
    this.resolve(outcome);
  }
}

/** A permission request as OpenCode describes it (its `PermissionRequest`, opencode 1.18). */
export const PermissionRequestInfo = z.object({
  id: z.string().min(1),
  permission: z.string(),
  patterns: z.array(z.string()).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

const PermissionAsked = z.object({ type: z.literal("permission.asked"), properties: PermissionRequestInfo });

export interface PermissionRequest {
  id: string;
  permission: string;
  /** The whole command, for `bash`. */
  command: string | undefined;
}

/** What the gate needs of OpenCode: answering a permission request and listing the open ones. */
export interface PermissionBackend {
  allowPermission(requestId: string): Promise<void>;
  pendingPermissions(): Promise<PermissionRequest[]>;
}

/** The bridge's view of one of OpenCode's permission requests. */
export function toPermissionRequest(info: z.infer<typeof PermissionRequestInfo>): PermissionRequest {
  const { id, permission, patterns, metadata } = info;
  const command = typeof metadata?.command === "string" ? metadata.command : patterns?.join(" && ");
  return { id, permission, command };
}

/** Reads a `permission.asked` event; undefined for any other event. */
export function parsePermissionAsked(raw: unknown): PermissionRequest | undefined {
  const parsed = PermissionAsked.safeParse(raw);
  return parsed.success ? toPermissionRequest(parsed.data.properties) : undefined;
}

/** Whether a request may be answered before the sync: a bash command that only reads. */
export function readsOnly(request: PermissionRequest): boolean {
  return request.permission === "bash" && request.command !== undefined && isReadOnlyCommand(request.command);
}

/**
 * Answers OpenCode's permission requests while the work tree syncs: reads at once, writes once
 * the sync has settled (then every request at once). When the sync settles it also asks OpenCode
 * for requests still open, so one whose event the stream dropped is not left waiting.
 */
export class WriteGate {
  private readonly answered = new Set<string>();
  private readonly held: PermissionRequest[] = [];

  constructor(
    private readonly sync: WorkTreeSync,
    private readonly backend: PermissionBackend,
    private readonly logger: Logger,
  ) {
    void sync.settled.then(() => this.release());
  }

  /** Takes every raw OpenCode event; acts on `permission.asked` only. */
  onOpencodeEvent(raw: unknown): void {
    const request = parsePermissionAsked(raw);
    if (!request || this.answered.has(request.id)) return;
    if (this.sync.finished || readsOnly(request)) {
      this.allow(request);
      return;
    }
    this.logger.info("holding a write until the work tree is synced", { permission: request.permission, command: request.command });
    this.sync.noteHeld();
    this.held.push(request);
  }

  private async release(): Promise<void> {
    for (const request of this.held.splice(0)) this.allow(request);
    try {
      for (const request of await this.backend.pendingPermissions()) {
        if (!this.answered.has(request.id)) this.allow(request);
      }
    } catch (error) {
      this.logger.warn("could not list OpenCode's open permission requests", { error: errorMessage(error) });
    }
  }

  private allow(request: PermissionRequest): void {
    this.answered.add(request.id);
    this.backend.allowPermission(request.id).catch((error: unknown) =>
      // A request the run no longer waits for (it was stopped) is gone: nothing to answer.
      this.logger.warn("answering an OpenCode permission request failed", { requestId: request.id, error: errorMessage(error) }),
    );
  }
}
