import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger, SandboxEgress } from "@lookout/sandbox";
import { createAddressPolicy, type AddressPolicy } from "./address-policy";
import { systemResolver, type PrivateDestination, type Resolver } from "./egress";
import { startRelay, type Relay, type RelayTarget } from "./relay";

export interface SandboxRelaysOptions {
  readonly egress: SandboxEgress;
  readonly logger: Logger;
  readonly addresses?: AddressPolicy;
  readonly resolve?: Resolver;
  /** The operator's private destinations (`LOOKOUT_EGRESS_PRIVATE_DESTINATIONS`); none by default. */
  readonly privateDestinations?: readonly PrivateDestination[];
}

/**
 * The relays of the sandboxes this gateway runs, one Unix socket each in a private directory.
 * The directory is short on purpose: socket paths are limited to 107 bytes.
 */
export class SandboxRelays {
  private readonly relays = new Map<string, Relay>();
  private readonly addresses: AddressPolicy;
  private readonly resolve: Resolver;

  private constructor(
    private readonly dir: string,
    private readonly options: SandboxRelaysOptions,
  ) {
    this.addresses = options.addresses ?? createAddressPolicy();
    this.resolve = options.resolve ?? systemResolver;
  }

  static async create(options: SandboxRelaysOptions): Promise<SandboxRelays> {
    return new SandboxRelays(await mkdtemp(join(tmpdir(), "lookout-relay-")), options);
  }

  /**
   * Opens the relay for a sandbox and returns its socket's path; a relay already open for the same
   * sandbox is replaced. `alwaysAllowHosts` are reachable whatever the policy (the repository host).
   */
  async open(target: RelayTarget, alwaysAllowHosts: readonly string[]): Promise<string> {
    await this.close(target.sandboxId);
    const socketPath = join(this.dir, `${createHash("sha256").update(target.sandboxId).digest("hex").slice(0, 24)}.sock`);
    await rm(socketPath, { force: true });
    const relay = await startRelay(
      socketPath,
      target,
      {
        policy: this.options.egress,
        alwaysAllowHosts,
        addresses: this.addresses,
        resolve: this.resolve,
        privateDestinations: this.options.privateDestinations ?? [],
      },
      this.options.logger,
    );
    this.relays.set(target.sandboxId, relay);
    return socketPath;
  }

  /**
   * Hands a warm-pool sandbox's relay to the session that claimed it: from now on it forwards that
   * session's routes (and no longer the pool's), under the session's sandbox id. Synchronous, so a
   * claim re-keys the relay and the registry with no await between.
   */
  retarget(poolSandboxId: string, target: RelayTarget): void {
    const relay = this.relays.get(poolSandboxId);
    if (!relay) return;
    relay.retarget(target);
    this.relays.delete(poolSandboxId);
    this.relays.set(target.sandboxId, relay);
  }

  /** Closes a sandbox's relay: from then on nothing in it reaches Lookout or the internet. */
  async close(sandboxId: string): Promise<void> {
    const relay = this.relays.get(sandboxId);
    if (!relay) return;
    this.relays.delete(sandboxId);
    await relay.close();
    await rm(relay.socketPath, { force: true });
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.relays.keys()].map((id) => this.close(id)));
    await rm(this.dir, { recursive: true, force: true });
  }
}
