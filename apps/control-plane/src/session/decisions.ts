import type { SessionStatus } from "@lookout/protocol";
import { circuitOpen, type LifecycleConfig, spawnRetryDelayMs } from "./lifecycle";
import type { SandboxRecord } from "./sandbox-store";

/**
 * The session's judgement calls as pure functions of what it knows: no storage, no clock of their
 * own, no sockets. The modules that act on them stay small, and each rule is tested on its own.
 */

export type HeartbeatVerdict = { kind: "alive"; recheckAt: number } | { kind: "lost"; reason: string };

/**
 * Whether a live sandbox's bridge still counts as alive when its heartbeat deadline fires. A bridge
 * that never connected gets the connect timeout; a connected one the heartbeat timeout; one whose
 * socket dropped only the reconnect grace.
 */
export function heartbeatVerdict(
  sandbox: Pick<SandboxRecord, "lastHeartbeat" | "createdAt">,
  bridgeConnected: boolean,
  now: number,
  lifecycle: LifecycleConfig,
): HeartbeatVerdict {
  const neverConnected = sandbox.lastHeartbeat === null;
  const last = sandbox.lastHeartbeat ?? sandbox.createdAt;
  const limit = neverConnected ? lifecycle.connectTimeoutMs : bridgeConnected ? lifecycle.heartbeatTimeoutMs : lifecycle.reconnectGraceMs;
  if (now - last < limit) return { kind: "alive", recheckAt: last + limit };
  return {
    kind: "lost",
    reason: neverConnected
      ? "The sandbox never connected."
      : bridgeConnected
        ? "The sandbox stopped sending heartbeats."
        : "The sandbox's bridge disconnected and did not come back.",
  };
}

export type SpawnFailurePlan = { kind: "breaker-open"; retryAt: number } | { kind: "retry"; retryAt: number } | { kind: "wait" };

/**
 * What to do after a sandbox failed to start: open the breaker after too many failures in a row,
 * otherwise retry while prompts wait — quickly with backoff for a transient failure, after the base
 * delay for a permanent one — or wait for the next prompt when nothing is queued.
 */
export function planAfterSpawnFailure(input: {
  failures: number;
  transient: boolean;
  promptsWaiting: boolean;
  now: number;
  lifecycle: LifecycleConfig;
}): SpawnFailurePlan {
  const { failures, now, lifecycle } = input;
  if (circuitOpen(failures, now, now, lifecycle)) return { kind: "breaker-open", retryAt: now + lifecycle.circuitBreakerCooldownMs };
  if (!input.promptsWaiting) return { kind: "wait" };
  const delay = input.transient ? spawnRetryDelayMs(failures, lifecycle) : lifecycle.spawnRetryBaseMs;
  return { kind: "retry", retryAt: now + delay };
}

/**
 * The session's status when nothing is running or queued: a session that never ran stays `created`
 * and a failed one stays `failed` until something new happens; otherwise it is `idle`.
 */
export function restingStatus(current: SessionStatus, sandboxLive: boolean): SessionStatus {
  if (sandboxLive) return "idle";
  return current === "created" ? "created" : current === "failed" ? "failed" : "idle";
}
