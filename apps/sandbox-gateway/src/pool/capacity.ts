import type { SandboxState } from "@lookout/sandbox";
import type { SandboxRecord, SandboxRegistry } from "../registry";

/** A sandbox the provider made, and what the provider said about it then. */
export interface StartedSandbox {
  readonly record: SandboxRecord;
  readonly status: SandboxState;
  /** It came from the warm pool (cloned, set up, OpenCode running before the create). */
  readonly warm?: boolean;
}

/** A create the provider is still working on (a session's or the pool's), holding a place under the cap. */
export interface CreateInProgress {
  readonly tokenHash: string;
  readonly created: Promise<StartedSandbox>;
}

/**
 * Every create in flight, by sandbox id: session creates and pool fills share this one map, so the
 * cap counts both and a check followed by `set` with no await between cannot be passed twice.
 */
export type CreatesInFlight = Map<string, CreateInProgress>;

/**
 * Sandboxes that count against the cap: recorded and not known to have ended (`ended`), plus
 * creates in flight. Warm-pool sandboxes are recorded like any other, so they count.
 */
export function runningCount(registry: SandboxRegistry, creating: CreatesInFlight, ended: ReadonlySet<string> = new Set()): number {
  return registry.unstopped().filter((record) => !ended.has(record.sandboxId)).length + creating.size;
}
