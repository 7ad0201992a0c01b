import { z } from "zod";

/** How the warm pool behaves; every value has a `LOOKOUT_POOL_*` variable (see `loadPoolSettings`). */
export interface PoolSettings {
  /**
   * `LOOKOUT_POOL=off` keeps no warm sandboxes whatever the targets say (test stacks, where every
   * used repository would otherwise get one); on by default.
   */
  readonly enabled: boolean;
  /** Warm sandboxes unclaimed this long are stopped, and not refilled until the repository is used again. */
  readonly idleLimitMs: number;
  /** A pool sandbox not warm this long after its create (clone, setup script, OpenCode) has failed. */
  readonly warmDeadlineMs: number;
  /** How long the bridge's setup script may run (passed to the bridge; part of `warmDeadlineMs`). */
  readonly setupTimeoutMs: number;
  /** How often the pool reconciles: fills, retires idle ones, looks for moved base branches. */
  readonly tickMs: number;
  /** After a failure a repository's pool waits this long, doubling per failure up to `backoffMaxMs`. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** How long a claim waits for the warm sandbox's bridge to pick it up before starting one instead. */
  readonly claimPickupMs: number;
  /** How long a claim waits for the branch heads (a remote's `git ls-remote`); after that the bridge syncs instead. */
  readonly claimHeadsWaitMs: number;
  /**
   * How long after a claim the replacement waits to start. Starting a sandbox (its OpenCode above
   * all) takes a core for seconds; on a small machine that competes with the claimed session's
   * first prompt, which is the start the pool exists to make fast.
   */
  readonly refillDelayMs: number;
  /** A pool sandbox's whole lifetime (the provider stops it then): waiting plus a session's default. */
  readonly lifetimeMs: number;
}

export const DEFAULT_POOL_IDLE_MS = 30 * 60_000;
export const DEFAULT_POOL_SETUP_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_POOL_TICK_MS = 15_000;
/** The session's default sandbox lifetime (`CreateSandboxRequest.timeoutMs`), which a claimed sandbox must still have. */
const SESSION_DEFAULT_LIFETIME_MS = 2 * 3600_000;

export const DEFAULT_POOL_SETTINGS: PoolSettings = {
  enabled: true,
  idleLimitMs: DEFAULT_POOL_IDLE_MS,
  setupTimeoutMs: DEFAULT_POOL_SETUP_TIMEOUT_MS,
  warmDeadlineMs: DEFAULT_POOL_SETUP_TIMEOUT_MS + 5 * 60_000,
  tickMs: DEFAULT_POOL_TICK_MS,
  backoffBaseMs: 60_000,
  backoffMaxMs: 30 * 60_000,
  claimPickupMs: 5_000,
  claimHeadsWaitMs: 2_000,
  refillDelayMs: 5_000,
  lifetimeMs: DEFAULT_POOL_IDLE_MS + DEFAULT_POOL_SETUP_TIMEOUT_MS + 5 * 60_000 + SESSION_DEFAULT_LIFETIME_MS,
};

const Ms = z.string().regex(/^\d+$/, "must be a whole number of milliseconds").transform(Number).pipe(z.number().int().positive());
const PoolEnv = z.object({
  LOOKOUT_POOL: z.enum(["on", "off"]).optional(),
  LOOKOUT_POOL_IDLE_MS: Ms.optional(),
  LOOKOUT_POOL_SETUP_TIMEOUT_MS: Ms.optional(),
  LOOKOUT_POOL_TICK_MS: Ms.optional(),
  LOOKOUT_POOL_REFILL_DELAY_MS: z
    .string()
    .regex(/^\d+$/, "must be a whole number of milliseconds")
    .transform(Number)
    .pipe(z.number().int().nonnegative())
    .optional(),
});

/** The pool's settings from the environment; throws a readable message for a bad value. */
export function loadPoolSettings(env: NodeJS.ProcessEnv): PoolSettings {
  const parsed = PoolEnv.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== "")),
  );
  if (!parsed.success) {
    throw new Error(
      `Invalid gateway configuration: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
    );
  }
  const idleLimitMs = parsed.data.LOOKOUT_POOL_IDLE_MS ?? DEFAULT_POOL_SETTINGS.idleLimitMs;
  const setupTimeoutMs = parsed.data.LOOKOUT_POOL_SETUP_TIMEOUT_MS ?? DEFAULT_POOL_SETTINGS.setupTimeoutMs;
  const warmDeadlineMs = setupTimeoutMs + 5 * 60_000;
  return {
    ...DEFAULT_POOL_SETTINGS,
    enabled: parsed.data.LOOKOUT_POOL !== "off",
    idleLimitMs,
    setupTimeoutMs,
    warmDeadlineMs,
    tickMs: parsed.data.LOOKOUT_POOL_TICK_MS ?? DEFAULT_POOL_SETTINGS.tickMs,
    refillDelayMs: parsed.data.LOOKOUT_POOL_REFILL_DELAY_MS ?? DEFAULT_POOL_SETTINGS.refillDelayMs,
    lifetimeMs: idleLimitMs + warmDeadlineMs + SESSION_DEFAULT_LIFETIME_MS,
  };
}
