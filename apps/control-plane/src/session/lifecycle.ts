import { z } from "zod";
import { backoffDelayMs, type SandboxStatus } from "@lookout/protocol";

/** Lifecycle policy as pure functions: every timing rule of a session's sandbox lives here. */
export const LIFECYCLE = {
  /** A bridge that has not heartbeated for this long is presumed dead. */
  heartbeatTimeoutMs: 45_000,
  /** A bridge whose socket dropped has this long to reconnect before its sandbox is replaced. */
  reconnectGraceMs: 20_000,
  /** An idle sandbox is snapshotted and stopped after this long without a prompt. */
  inactivityTimeoutMs: 10 * 60_000,
  /** A prompt running longer than this is stopped. */
  executionTimeoutMs: 60 * 60_000,
  /** After a stop is sent, the bridge has this long to confirm before the sandbox is replaced. */
  stopConfirmationMs: 30_000,
  /** A spawned sandbox must connect its bridge within this long. */
  connectTimeoutMs: 3 * 60_000,
  /** Consecutive permanent spawn failures that open the circuit breaker. */
  circuitBreakerThreshold: 3,
  /** How long an open breaker refuses to spawn. */
  circuitBreakerCooldownMs: 5 * 60_000,
  /** Backoff before retrying a transient spawn failure: base × 2^(failures-1), capped. */
  spawnRetryBaseMs: 2_000,
  spawnRetryMaxMs: 60_000,
} as const;

export type LifecycleConfig = { -readonly [K in keyof typeof LIFECYCLE]: number };

/**
 * Operators (and tests) may shorten or lengthen any timing with the Worker variable
 * `LIFECYCLE_OVERRIDES`, a JSON object of the keys above; unknown keys and bad values are refused.
 */
export const LifecycleOverrides = z
  .object(
    Object.fromEntries(Object.keys(LIFECYCLE).map((key) => [key, z.number().int().positive().optional()])) as Record<
      keyof typeof LIFECYCLE,
      z.ZodOptional<z.ZodNumber>
    >,
  )
  .strict();

export function lifecycleFrom(overrides: string | undefined): LifecycleConfig {
  if (!overrides) return LIFECYCLE;
  const parsed = LifecycleOverrides.parse(JSON.parse(overrides));
  const config: LifecycleConfig = { ...LIFECYCLE };
  for (const [key, value] of Object.entries(parsed)) if (value !== undefined) config[key as keyof LifecycleConfig] = value;
  return config;
}

/** Sandbox states in which a bridge is (or is about to be) available, so no new spawn is needed. */
const LIVE_STATES = new Set<SandboxStatus>(["spawning", "connecting", "ready", "running", "idle"]);

export function isLive(status: SandboxStatus): boolean {
  return LIVE_STATES.has(status);
}

export type SpawnDecision = { spawn: true } | { spawn: false; reason: "live" | "circuit-open" | "archived" };

export function decideSpawn(input: {
  sandboxStatus: SandboxStatus;
  archived: boolean;
  spawnFailures: number;
  lastFailureAt: number | null;
  now: number;
  config?: LifecycleConfig;
}): SpawnDecision {
  const config = input.config ?? LIFECYCLE;
  if (input.archived) return { spawn: false, reason: "archived" };
  if (isLive(input.sandboxStatus)) return { spawn: false, reason: "live" };
  if (circuitOpen(input.spawnFailures, input.lastFailureAt, input.now, config)) return { spawn: false, reason: "circuit-open" };
  return { spawn: true };
}

export function circuitOpen(failures: number, lastFailureAt: number | null, now: number, config: LifecycleConfig = LIFECYCLE): boolean {
  return failures >= config.circuitBreakerThreshold && lastFailureAt !== null && now - lastFailureAt < config.circuitBreakerCooldownMs;
}

/** The wait after the `failures`-th consecutive transient spawn failure (1 = the first). No jitter: one alarm per session. */
export function spawnRetryDelayMs(failures: number, config: LifecycleConfig = LIFECYCLE): number {
  return backoffDelayMs(failures, { baseMs: config.spawnRetryBaseMs, maxMs: config.spawnRetryMaxMs, jitter: "none" });
}
