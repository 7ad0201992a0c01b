import type { PoolClaim, PoolFailure, PoolRepositoryState, PoolTarget } from "@lookout/protocol";
import type { RouteContext } from "../routes";
import type { StartedSandbox } from "./capacity";

/** One pool sandbox, from its create until it is claimed or retired. */
export interface Entry {
  readonly sandboxId: string;
  readonly repositoryKey: string;
  readonly tokenHash: string;
  /** The models it offers (`provider/model`); a claim needs the session's among them. */
  readonly models: ReadonlySet<string>;
  /** When the provider stops it (its lifetime); a claim needs the session's lifetime left. */
  readonly expiresAtMs: number;
  /** Resolves once the provider made it (undefined if that failed). */
  readonly created: Promise<StartedSandbox | undefined>;
  state: "starting" | "warm" | "refreshing";
  phase: string;
  sinceMs: number;
  warmAtMs?: number;
  baseHead?: string;
  setupDurationMs?: number;
  /** Set while a session's create is handing it over; nothing else may take it then. */
  reserved: boolean;
  /** The bridge's pending long poll, answered with the claim. */
  waiter?: (claim: PoolClaim | undefined) => void;
  /** Called when the bridge's next long poll arrives (a claim waiting for it). */
  onPoll?: () => void;
}

/** One repository's pool. */
export interface RepositoryPool {
  target: PoolTarget;
  claimed: number;
  /** Failures in a row; the backoff doubles with each. */
  failures: number;
  failure?: PoolFailure;
  /** Set when idle sandboxes were stopped: no refill until a session uses the repository after this. */
  restingSinceUseMs?: number;
  held?: PoolRepositoryState["held"];
  /** Replacements still to start for sandboxes retired because the base branch moved. */
  refreshesDue: number;
  /** After a claim no replacement starts before this, so the refill does not slow the claimed session's first prompt. */
  refillNotBeforeMs?: number;
}

/**
 * Holds a pool bridge's long poll for up to `waitMs`: it resolves with the claim handed to
 * `entry.waiter`, or undefined when the time is up, the bridge hangs up, or another poll replaces it.
 */
export function waitForClaim(entry: Entry, waitMs: number, signal: AbortSignal): Promise<PoolClaim | undefined> {
  entry.waiter?.(undefined);
  return new Promise((resolve) => {
    const done = (claim: PoolClaim | undefined): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", abandon);
      if (entry.waiter === done) entry.waiter = undefined;
      resolve(claim);
    };
    const abandon = (): void => done(undefined);
    const timer = setTimeout(abandon, waitMs);
    signal.addEventListener("abort", abandon, { once: true });
    entry.waiter = done;
    entry.onPoll?.();
  });
}

/** The bridge's next long poll, or undefined if it does not come within `pickupMs`. */
export function nextPoll(entry: Entry, pickupMs: number): Promise<((claim: PoolClaim | undefined) => void) | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      entry.onPoll = undefined;
      resolve(undefined);
    }, pickupMs);
    entry.onPoll = () => {
      clearTimeout(timer);
      entry.onPoll = undefined;
      resolve(entry.waiter);
    };
  });
}

/** Whether a recorded sandbox ended on its own (stopped or failed); a state that cannot be read is not an end. */
export async function hasEnded(context: RouteContext, sandboxId: string): Promise<boolean> {
  const record = context.registry.get(sandboxId);
  if (!record) return false;
  const state = await context.provider.status(record.providerId).catch(() => "unknown" as const);
  return state === "stopped" || state === "failed";
}

/** What `read` gives within `waitMs`, else undefined; a slower read goes on (bounded by its own timeout) unawaited. */
export async function within<T>(read: Promise<T>, waitMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A repository's pool as `GET /v1/pool` shows it; entries being handed to a session are not counted. */
export function repositoryState(pool: RepositoryPool, all: readonly Entry[]): PoolRepositoryState {
  const entries = all.filter((entry) => !entry.reserved);
  const count = (state: Entry["state"]) => entries.filter((entry) => entry.state === state).length;
  return {
    repositoryKey: pool.target.repositoryKey,
    repository: pool.target.repository,
    baseBranch: pool.target.baseBranch,
    size: pool.target.size,
    warm: count("warm"),
    starting: count("starting"),
    refreshing: count("refreshing"),
    claimed: pool.claimed,
    ...(pool.held ? { held: pool.held } : {}),
    ...(pool.failure ? { failure: pool.failure } : {}),
    entries: entries.map((entry) => ({
      sandboxId: entry.sandboxId,
      state: entry.state,
      phase: entry.phase,
      sinceMs: entry.sinceMs,
      ...(entry.baseHead ? { baseHead: entry.baseHead } : {}),
      ...(entry.setupDurationMs !== undefined ? { setupDurationMs: entry.setupDurationMs } : {}),
    })),
  };
}

export function sameSource(a: PoolTarget["repository"], b: PoolTarget["repository"]): boolean {
  if (a.kind === "local" && b.kind === "local") return a.path === b.path;
  if (a.kind === "remote" && b.kind === "remote") return a.cloneUrl === b.cloneUrl;
  return false;
}

export function sameRepository(a: PoolTarget, b: PoolTarget): boolean {
  return sameSource(a.repository, b.repository) && a.baseBranch === b.baseBranch;
}

/** A remote credential is used only with this much life left: a clone must finish with it. */
const CREDENTIAL_MARGIN_MS = 5 * 60_000;

/** The target's read-only credential for a remote repository, if it is still good for a clone. */
export function usableCredential(target: PoolTarget, nowMs: number): PoolTarget["gitCredential"] {
  const credential = target.gitCredential;
  return credential && credential.expiresAt - nowMs > CREDENTIAL_MARGIN_MS ? credential : undefined;
}
