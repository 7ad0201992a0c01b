import { LookoutError } from "@lookout/protocol";
import { log } from "./log";

/**
 * A module loaded on first use rather than when the Worker starts. Every Durable Object shares the
 * Worker's isolate, and a full GC's pause grows with what that isolate keeps alive, so an
 * integration's SDK (Slack, Octokit) is evaluated only by the request that needs it (ADR 0016).
 * `load` must be a literal `() => import("…")`: that is what the bundler turns into a deferred
 * initializer. The first successful load is kept; a failed one is logged and becomes `INTERNAL`
 * (the client sees the registry's message, never the loader's stack), and the next call tries again.
 */
export function lazy<T>(name: string, load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      log.error("a lazily loaded module failed to load", { module: name, error });
      throw new LookoutError("INTERNAL", `Lookout could not load its ${name} module. Try again.`);
    }));
}
