/**
 * The one interface every sandbox backend implements. The gateway talks only to this; a provider
 * turns it into its vendor's API (or, for `local`, into bubblewrap process trees).
 *
 * Identity: the control plane chooses `sandboxId`; the provider answers with its own `providerId`,
 * which is what every later call takes. Providers keep no state the gateway cannot rebuild from
 * the `providerId` alone (remote providers ask their API; `local` looks at its data directory).
 */

/** The names the gateway accepts in `LOOKOUT_SANDBOX_PROVIDER`. */
export const PROVIDER_NAMES = ["local", "modal", "daytona", "vercel"] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** What a sandbox is doing, as the control plane sees it (`SandboxInfo.status` in the protocol). */
export type SandboxState = "starting" | "running" | "stopped" | "failed" | "unknown";

export interface SandboxProviderCapabilities {
  /** `snapshot()` captures the work directory so a later `restore()` can continue from it. */
  readonly snapshots: boolean;
  /** `restore()` starts a sandbox from a snapshot id. */
  readonly restore: boolean;
  /** The provider enforces `timeoutMs` itself (the sandbox is stopped when it elapses). */
  readonly timeouts: boolean;
  /** The largest `timeoutMs` the provider accepts; longer requests are clamped to it. */
  readonly maxTimeoutMs: number;
  /** Taking a snapshot stops the sandbox (Vercel); the control plane must restore to continue. */
  readonly snapshotStopsSandbox: boolean;
  /**
   * How the sandbox reaches the network:
   * - `uplink`: its own network namespace with loopback only; its one way out is the gateway's
   *   per-sandbox relay socket (`SandboxCreateConfig.uplinkSocket`), which admits the session's
   *   Lookout routes and the egress policy's destinations and nothing else (local bubblewrap);
   * - `vendor`: the vendor's VM network, restricted with the vendor's own controls (Modal, Daytona,
   *   Vercel; see `docs/security.md`);
   * - `host`: the host's network, unrestricted (the unsandboxed development mode only).
   */
  readonly network: "uplink" | "vendor" | "host";
}

/** Where a sandbox's filesystem comes from. */
export type SandboxSource = { readonly kind: "image" } | { readonly kind: "snapshot"; readonly snapshotId: string };

export interface SandboxResources {
  readonly cpu?: number;
  readonly memoryMiB?: number;
}

export interface SandboxCreateConfig {
  /** The control plane's id for this sandbox; used in names, labels and logs. */
  readonly sandboxId: string;
  /**
   * The bridge's environment (see `BRIDGE_ENV` in the protocol) plus user secrets. Path-dependent
   * variables (`LOOKOUT_WORKDIR`, `LOOKOUT_HOME`, `LOOKOUT_OPENCODE_BIN`, `HOME`, `PATH`) are
   * added by the provider, because only it knows where things live inside its sandboxes.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly source: SandboxSource;
  readonly resources?: SandboxResources;
  /** Stop the sandbox after this long, whatever it is doing. */
  readonly timeoutMs: number;
  /**
   * For `network: "uplink"` providers: the host path of the gateway's relay socket for this
   * sandbox, bound into it at `UPLINK.socketPath`. Required by those providers.
   */
  readonly uplinkSocket?: string;
  /** Where the vendor's network controls may let the sandbox go (`network: "vendor"` providers). */
  readonly egress?: SandboxEgress;
}

/**
 * Which public destinations a sandbox may reach. Private, loopback and link-local addresses are
 * never reachable whatever the policy; `hosts` entries are host names, `*.example.com` matching
 * any subdomain.
 */
export type SandboxEgress =
  { readonly mode: "public" } | { readonly mode: "allowlist"; readonly hosts: readonly string[] } | { readonly mode: "none" };

export interface SandboxHandle {
  readonly providerId: string;
  readonly status: SandboxState;
}

export interface SandboxProvider {
  readonly name: ProviderName;
  readonly capabilities: SandboxProviderCapabilities;

  /** Starts a sandbox and launches the bridge in it (`node /opt/lookout/bridge.mjs`). */
  create(config: SandboxCreateConfig): Promise<SandboxHandle>;

  /** The sandbox's current state. Throws `SandboxProviderError` (`not_found`) for unknown ids. */
  status(providerId: string): Promise<SandboxState>;

  /** Captures the sandbox's work directory; the returned id is opaque to everyone but this provider. */
  snapshot(providerId: string): Promise<{ snapshotId: string }>;

  /** Starts a sandbox from `snapshotId` (same as `create` with a snapshot source). */
  restore(snapshotId: string, config: Omit<SandboxCreateConfig, "source">): Promise<SandboxHandle>;

  /**
   * Deletes a snapshot from the provider's storage, for good: nothing can start from it afterwards.
   * Deleting an unknown or already deleted snapshot succeeds; a malformed id is `invalid_request`;
   * any other failure throws `SandboxProviderError`. Sandboxes already started from it keep running.
   */
  deleteSnapshot(snapshotId: string): Promise<void>;

  /** Stops the sandbox and releases everything it holds. Terminating a gone sandbox succeeds. */
  terminate(providerId: string): Promise<void>;

  /** Releases the provider's own resources (connections, child processes) on gateway shutdown. */
  close(): Promise<void>;
}
