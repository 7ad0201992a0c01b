import {
  type CreateSandboxRequest,
  type PoolBridgeReport,
  type PoolClaim,
  type PoolState,
  type PoolTarget,
  type PoolTargetsRequest,
} from "@lookout/protocol";
import { describeError } from "@lookout/sandbox";
import { currentCapacity, type RouteContext } from "../routes";
import { runningCount, type StartedSandbox } from "./capacity";
import { claimFor, newPoolIdentity, offeredModels, POOL_SANDBOX_PREFIX, startPoolSandbox, terminateQuietly } from "./pool-sandbox";
import {
  hasEnded,
  nextPoll,
  repositoryState,
  sameRepository,
  sameSource,
  usableCredential,
  waitForClaim,
  within,
  type Entry,
  type RepositoryPool,
} from "./entry";
import type { BranchHeads } from "./branch-heads";
import type { PoolSettings } from "./settings";

/** A warm sandbox set aside for one create; `hand` gives it the session, or says it could not. */
export interface Reservation {
  hand(request: CreateSandboxRequest, tokenHash: string): Promise<StartedSandbox | undefined>;
}

export interface WarmPoolOptions {
  readonly context: () => RouteContext;
  readonly settings: PoolSettings;
  /** A target's branch heads: a reconcile accepts a read as old as its interval, a claim only a new one. */
  readonly branchHeads: BranchHeads;
  readonly now?: () => number;
}

/**
 * The warm pool (ADR 0012). Per repository the control plane names (`PUT /v1/pool/targets`), it
 * keeps `size` sandboxes that are cloned at the base branch, set up and running OpenCode, each
 * waiting on its pool channel. A session's create for the same repository and base branch claims
 * one instead of starting a sandbox. Pool sandboxes are created through the provider interface and
 * recorded like any other, so they count against the cap; the pool fills only below the cap, and
 * a session's create at the cap evicts an unclaimed one (sessions come first).
 */
export class WarmPool {
  readonly #repositories = new Map<string, RepositoryPool>();
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  #controlPlaneUrl: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reconciling: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(private readonly options: WarmPoolOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Retires pool sandboxes an earlier run left recorded, and starts the periodic reconcile. */
  async start(): Promise<void> {
    const context = this.options.context();
    const orphans = context.registry.unstopped().filter((record) => record.sandboxId.startsWith(POOL_SANDBOX_PREFIX));
    for (const record of orphans) await terminateQuietly(context, record.sandboxId);
    this.#timer = setInterval(() => this.poke(), this.options.settings.tickMs);
    this.#timer.unref();
  }

  /** Stops reconciling; the provider's own close ends the sandboxes. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const entry of this.#entries.values()) entry.waiter?.(undefined);
    await this.#reconciling;
  }

  /** Replaces the wish list; repositories no longer named lose their pool sandboxes. */
  setTargets(request: PoolTargetsRequest): void {
    this.#controlPlaneUrl = request.controlPlaneUrl;
    const named = new Set(request.targets.map((target) => target.repositoryKey));
    for (const [key, pool] of this.#repositories) {
      if (!named.has(key)) this.#repositories.delete(key);
      else pool.held = undefined;
    }
    for (const target of request.targets) {
      const pool = this.#repositories.get(target.repositoryKey);
      if (pool) {
        const moved = !sameRepository(pool.target, target);
        pool.target = target;
        if (moved) for (const entry of this.#entriesOf(target.repositoryKey)) void this.#retire(entry);
      } else {
        this.#repositories.set(target.repositoryKey, { target, claimed: 0, failures: 0, refreshesDue: 0 });
      }
    }
    for (const entry of [...this.#entries.values()]) if (!named.has(entry.repositoryKey)) void this.#retire(entry);
    this.poke();
  }

  /** Reconciles soon (coalesced): after a claim, a create, a report, and on every tick. */
  poke(): void {
    if (this.#closed) return;
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = this.#reconcile()
      .catch((error: unknown) => this.options.context().logger.error("pool reconcile failed", { error: describeError(error) }))
      .finally(() => {
        this.#reconciling = undefined;
        if (this.#again) {
          this.#again = false;
          this.poke();
        }
      });
  }

  /** Resolves once no reconcile is running (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#reconciling) await this.#reconciling;
  }

  // ---------------------------------------------------------------- claims

  /**
   * Sets aside a warm sandbox for this create, synchronously (two creates never get the same one):
   * same repository and base branch, the session's model offered, enough lifetime left, and no
   * snapshot to restore. Undefined: the create starts a sandbox as usual.
   */
  reserve(request: CreateSandboxRequest): Reservation | undefined {
    // A session's own snapshot holds its work; the repository's image is what a warm sandbox already is.
    if (request.snapshotId && !request.fromImage) return undefined;
    const context = this.options.context();
    const pool = [...this.#repositories.values()].find(
      (candidate) => sameSource(candidate.target.repository, request.repository) && candidate.target.baseBranch === request.baseBranch,
    );
    if (!pool) return undefined;
    const lifetimeMs = Math.min(request.timeoutMs, context.provider.capabilities.maxTimeoutMs);
    const entry = this.#entriesOf(pool.target.repositoryKey).find(
      (candidate) =>
        candidate.state === "warm" &&
        !candidate.reserved &&
        candidate.models.has(request.model) &&
        candidate.expiresAtMs - this.#now() >= lifetimeMs &&
        context.registry.get(candidate.sandboxId) !== undefined,
    );
    if (!entry) return undefined;
    entry.reserved = true;
    return { hand: (req, tokenHash) => this.#hand(pool, entry, req, tokenHash) };
  }

  async #hand(pool: RepositoryPool, entry: Entry, request: CreateSandboxRequest, tokenHash: string): Promise<StartedSandbox | undefined> {
    const context = this.options.context();
    // Nothing to sync when the base has not moved since the clone and the session branch is new (unknown heads: sync).
    const heads = await within(this.options.branchHeads(pool.target, 0), this.options.settings.claimHeadsWaitMs).catch(() => undefined);
    const upToDate = entry.baseHead !== undefined && heads?.get(request.baseBranch) === entry.baseHead && !heads.has(request.branch);
    const waiter = entry.waiter ?? (await nextPoll(entry, this.options.settings.claimPickupMs));
    const record = context.registry.get(entry.sandboxId);
    if (!waiter || !record || !this.#entries.has(entry.sandboxId)) {
      context.logger.warn("warm sandbox did not take its claim; starting one instead", { sandboxId: entry.sandboxId });
      await this.#retire(entry);
      return undefined;
    }
    const claim = claimFor(context, request, upToDate);
    // From here to the hand-over nothing is awaited: the registry (the token the model proxy
    // accepts), the relay (the session's routes) and the bridge all switch to the session together.
    const rekeyed = { ...record, sandboxId: request.sandboxId, tokenHash, createdAtMs: this.#now() };
    const writes = Promise.all([context.registry.delete(entry.sandboxId), context.registry.put(rekeyed)]);
    context.relays.retarget(entry.sandboxId, {
      sessionId: request.sessionId,
      sandboxId: request.sandboxId,
      controlPlaneUrl: request.controlPlaneUrl,
      gatewayUrl: context.internalUrl,
    });
    this.#entries.delete(entry.sandboxId);
    entry.waiter = undefined;
    waiter(claim);
    pool.claimed += 1;
    this.#deferRefill(pool);
    await writes;
    context.logger.info("warm sandbox claimed", {
      poolSandboxId: entry.sandboxId,
      sandboxId: request.sandboxId,
      sessionId: request.sessionId,
      warmForMs: this.#now() - (entry.warmAtMs ?? entry.sinceMs),
    });
    this.poke();
    return { record: rekeyed, status: "running", warm: true };
  }

  /**
   * Gives up one unclaimed pool sandbox so a session's create at the cap can start: chosen
   * synchronously (a not-yet-warm one first, else the longest-waiting warm one); the promise
   * resolves once it is terminated and its place is free. Undefined when the pool holds none.
   */
  evictOne(): Promise<void> | undefined {
    const candidates = [...this.#entries.values()].filter((entry) => !entry.reserved);
    const victim =
      candidates.find((entry) => entry.state !== "warm") ?? candidates.sort((a, b) => (a.warmAtMs ?? 0) - (b.warmAtMs ?? 0))[0];
    if (!victim) return undefined;
    this.options.context().logger.info("pool sandbox evicted for a session at the cap", { sandboxId: victim.sandboxId });
    return this.#retire(victim);
  }

  // ---------------------------------------------------------------- the pool channel

  /** The entry a pool token opens, or undefined. */
  entryFor(sandboxId: string, tokenHash: string): { sandboxId: string; target: PoolTarget } | undefined {
    const entry = this.#entries.get(sandboxId);
    const pool = entry ? this.#repositories.get(entry.repositoryKey) : undefined;
    if (!entry || !pool || entry.tokenHash !== tokenHash) return undefined;
    return { sandboxId, target: pool.target };
  }

  /** A pool bridge's progress: its phase, warm with the base commit it holds, or failed with why. */
  report(sandboxId: string, report: PoolBridgeReport): void {
    const entry = this.#entries.get(sandboxId);
    const pool = entry ? this.#repositories.get(entry.repositoryKey) : undefined;
    if (!entry || !pool) return;
    entry.phase = report.phase;
    if (report.phase === "warm") {
      entry.state = "warm";
      entry.sinceMs = entry.warmAtMs = this.#now();
      entry.baseHead = report.baseHead;
      if (report.setupDurationMs !== undefined) entry.setupDurationMs = report.setupDurationMs;
      pool.failures = 0;
      pool.failure = undefined;
    } else if (report.phase === "failed") {
      this.#fail(pool, entry, report.message, report.output);
    }
  }

  /** Waits up to `waitMs` for a claim for this pool sandbox (its bridge's long poll). */
  waitForClaim(sandboxId: string, waitMs: number, signal: AbortSignal): Promise<PoolClaim | undefined> {
    const entry = this.#entries.get(sandboxId);
    return entry ? waitForClaim(entry, waitMs, signal) : Promise.resolve(undefined);
  }

  // ---------------------------------------------------------------- state

  async state(): Promise<PoolState> {
    const context = this.options.context();
    const repositories = [...this.#repositories.values()].map((pool) => repositoryState(pool, this.#entriesOf(pool.target.repositoryKey)));
    return { repositories, capacity: await currentCapacity(context), idleLimitMs: this.options.settings.idleLimitMs };
  }

  // ---------------------------------------------------------------- reconcile

  async #reconcile(): Promise<void> {
    const context = this.options.context();
    const now = this.#now();
    const settings = this.options.settings;
    for (const entry of [...this.#entries.values()]) {
      if (entry.reserved) continue;
      const pool = this.#repositories.get(entry.repositoryKey);
      if (!pool) continue;
      if (entry.state !== "warm" && now - entry.sinceMs > settings.warmDeadlineMs) {
        this.#fail(pool, entry, `The pool sandbox was not warm within ${settings.warmDeadlineMs} ms (phase: ${entry.phase}).`);
      } else if (entry.state === "warm" && now - (entry.warmAtMs ?? now) > settings.idleLimitMs) {
        context.logger.info("idle pool sandbox stopped", { sandboxId: entry.sandboxId, idleLimitMs: settings.idleLimitMs });
        pool.restingSinceUseMs = pool.target.lastUsedAtMs ?? 0;
        void this.#retire(entry);
      } else if (await hasEnded(context, entry.sandboxId)) {
        if (entry.state !== "warm") this.#fail(pool, entry, "The pool sandbox ended before it was warm.");
        else void this.#retire(entry);
      }
    }
    await this.#retireMovedBases();
    for (const pool of this.#repositories.values()) await this.#fill(pool);
  }

  /**
   * Warm sandboxes whose base branch moved are retired; their replacements show as refreshing. Heads are
   * read at most once per reconcile interval (a remote's with `git ls-remote`); unknown ones keep them.
   */
  async #retireMovedBases(): Promise<void> {
    const logger = this.options.context().logger;
    for (const pool of this.#repositories.values()) {
      const warm = this.#entriesOf(pool.target.repositoryKey).filter((entry) => entry.state === "warm" && !entry.reserved);
      if (warm.length === 0) continue;
      const heads = await this.options.branchHeads(pool.target, this.options.settings.tickMs).catch(() => undefined);
      const head = heads?.get(pool.target.baseBranch);
      if (!head) continue;
      for (const entry of warm) {
        if (entry.baseHead === head || entry.reserved) continue;
        logger.info("base branch moved; pool sandbox refreshed", { sandboxId: entry.sandboxId, from: entry.baseHead, to: head });
        pool.refreshesDue += 1;
        void this.#retire(entry);
      }
    }
  }

  async #fill(pool: RepositoryPool): Promise<void> {
    const context = this.options.context();
    const { target } = pool;
    if (!this.options.settings.enabled) return this.#hold(pool, "disabled");
    const live = this.#entriesOf(target.repositoryKey).length;
    if (live >= target.size) {
      if (pool.held === "capacity") pool.held = undefined;
      return;
    }
    // A remote repository is cloned with the read-only credential the control plane sends with the
    // targets; local ones with a credential the gateway mints itself.
    if (target.repository.kind === "remote" && !usableCredential(target, this.#now())) return this.#hold(pool, "unsupported");
    if (pool.refillNotBeforeMs !== undefined && this.#now() < pool.refillNotBeforeMs) return;
    if (pool.failure && this.#now() < pool.failure.retryAtMs) return this.#hold(pool, "failed");
    if (pool.restingSinceUseMs !== undefined) {
      if ((target.lastUsedAtMs ?? 0) <= pool.restingSinceUseMs) return this.#hold(pool, "idle");
      pool.restingSinceUseMs = undefined;
    }
    const controlPlaneUrl = this.#controlPlaneUrl;
    if (!controlPlaneUrl) return;
    const { models, defaultModel } = await offeredModels(context);
    if (!defaultModel) return this.#hold(pool, "unsupported");
    pool.held = undefined;
    for (let missing = target.size - this.#entriesOf(target.repositoryKey).length; missing > 0; missing--) {
      // The check and the registration run with no await between (see `runningCount`).
      if (runningCount(context.registry, context.creating) >= context.maxRunningSandboxes) return this.#hold(pool, "capacity");
      this.#startEntry(pool, controlPlaneUrl, defaultModel, models);
    }
  }

  /** The replacement for a claimed sandbox starts `refillDelayMs` later (a tick after that at the latest). */
  #deferRefill(pool: RepositoryPool): void {
    const delayMs = this.options.settings.refillDelayMs;
    if (delayMs <= 0) return;
    pool.refillNotBeforeMs = this.#now() + delayMs;
    setTimeout(() => this.poke(), delayMs).unref();
  }

  #startEntry(pool: RepositoryPool, controlPlaneUrl: string, model: string, models: ReadonlySet<string>): void {
    const context = this.options.context();
    const identity = newPoolIdentity();
    const lifetimeMs = Math.min(this.options.settings.lifetimeMs, context.provider.capabilities.maxTimeoutMs);
    const starting = startPoolSandbox(context, identity, pool.target, {
      controlPlaneUrl,
      model,
      lifetimeMs,
      setupTimeoutMs: this.options.settings.setupTimeoutMs,
    });
    context.creating.set(identity.sandboxId, { tokenHash: identity.tokenHash, created: starting });
    const created = starting.then(
      (started) => started,
      (error: unknown) => {
        const entry = this.#entries.get(identity.sandboxId);
        if (entry) this.#fail(pool, entry, `The pool sandbox could not be created: ${describeError(error)}`);
        return undefined;
      },
    );
    void created.finally(() => context.creating.delete(identity.sandboxId));
    const refreshing = pool.refreshesDue > 0;
    if (refreshing) pool.refreshesDue -= 1;
    this.#entries.set(identity.sandboxId, {
      sandboxId: identity.sandboxId,
      repositoryKey: pool.target.repositoryKey,
      tokenHash: identity.tokenHash,
      models,
      expiresAtMs: this.#now() + lifetimeMs,
      created,
      state: refreshing ? "refreshing" : "starting",
      phase: "starting",
      sinceMs: this.#now(),
      reserved: false,
    });
    context.logger.info("pool sandbox starting", { sandboxId: identity.sandboxId, repositoryKey: pool.target.repositoryKey });
  }

  #hold(pool: RepositoryPool, why: NonNullable<RepositoryPool["held"]>): void {
    pool.held = why;
  }

  #fail(pool: RepositoryPool, entry: Entry, message: string, output?: string): void {
    const settings = this.options.settings;
    pool.failures += 1;
    const backoffMs = Math.min(settings.backoffBaseMs * 2 ** (pool.failures - 1), settings.backoffMaxMs);
    pool.failure = { atMs: this.#now(), message, ...(output !== undefined ? { output } : {}), retryAtMs: this.#now() + backoffMs };
    pool.held = "failed";
    this.options.context().logger.warn("pool sandbox failed", { sandboxId: entry.sandboxId, message, backoffMs });
    void this.#retire(entry);
  }

  /** Takes an entry out of the pool and terminates its sandbox once the provider made it. */
  #retire(entry: Entry): Promise<void> {
    this.#entries.delete(entry.sandboxId);
    entry.waiter?.(undefined);
    const context = this.options.context();
    return entry.created.then(() => terminateQuietly(context, entry.sandboxId));
  }

  #entriesOf(repositoryKey: string): Entry[] {
    return [...this.#entries.values()].filter((entry) => entry.repositoryKey === repositoryKey);
  }
}
