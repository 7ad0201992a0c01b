import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { SandboxEgress } from "@lookout/sandbox";
import { z } from "zod";
import type { AddressPolicy } from "./address-policy";

/** Resolves a host name to every address it has (the relay checks all of them). */
export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Why a destination is refused; the message is shown to whatever tool asked. */
export class EgressRefused extends Error {
  override readonly name = "EgressRefused";
}

/** A destination on a private network the operator lets sandboxes reach: exactly this host and port. */
export interface PrivateDestination {
  readonly host: string;
  readonly port: number;
}

export interface EgressRules {
  readonly policy: SandboxEgress;
  /** Host names always allowed, whatever the policy (the session's own remote repository host). */
  readonly alwaysAllowHosts: readonly string[];
  readonly addresses: AddressPolicy;
  readonly resolve: Resolver;
  /**
   * Named destinations that may resolve to private addresses (a GitHub Enterprise Server on the
   * operator's network); everything else private stays refused. Empty unless the operator opts in.
   */
  readonly privateDestinations?: readonly PrivateDestination[];
}

const HostPattern = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/, "a host name, optionally starting with '*.'");

/**
 * The egress policy from `LOOKOUT_SANDBOX_EGRESS` (`public`, the default; `allowlist`; `none`) and
 * `LOOKOUT_SANDBOX_EGRESS_ALLOW` (comma-separated host names, `*.example.com` for subdomains).
 */
export function egressFromEnv(env: NodeJS.ProcessEnv): SandboxEgress {
  const mode = (env.LOOKOUT_SANDBOX_EGRESS ?? "public").trim() || "public";
  if (mode === "public") return { mode: "public" };
  if (mode === "none") return { mode: "none" };
  if (mode !== "allowlist") {
    throw new Error(`LOOKOUT_SANDBOX_EGRESS must be "public", "allowlist" or "none" (got ${JSON.stringify(mode)}).`);
  }
  const entries = (env.LOOKOUT_SANDBOX_EGRESS_ALLOW ?? "").split(",").filter((entry) => entry.trim() !== "");
  const hosts = entries.map((entry) => {
    const parsed = HostPattern.safeParse(entry);
    if (!parsed.success)
      throw new Error(`LOOKOUT_SANDBOX_EGRESS_ALLOW: ${JSON.stringify(entry)} is not ${parsed.error.issues[0]?.message}.`);
    return parsed.data;
  });
  if (hosts.length === 0) throw new Error("LOOKOUT_SANDBOX_EGRESS=allowlist needs LOOKOUT_SANDBOX_EGRESS_ALLOW (comma-separated hosts).");
  return { mode: "allowlist", hosts };
}

/**
 * The operator's opt-in from `LOOKOUT_EGRESS_PRIVATE_DESTINATIONS`: comma-separated `host:port`
 * entries (`ghe.internal:443`, `10.0.0.5:8443`, `[fd00::5]:443`), matched exactly, host and port.
 * Empty by default; a malformed entry stops the gateway rather than being skipped.
 */
export function privateDestinationsFromEnv(env: NodeJS.ProcessEnv): PrivateDestination[] {
  const entries = (env.LOOKOUT_EGRESS_PRIVATE_DESTINATIONS ?? "").split(",").map((entry) => entry.trim());
  return entries
    .filter((entry) => entry !== "")
    .map((entry) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      const host = normalizeHost(match?.[1] ?? "");
      const wellFormed = host !== "" && (isIP(host) !== 0 || HostPattern.safeParse(host).success) && !host.startsWith("*.");
      if (!match || !wellFormed || port < 1 || port > 65_535) {
        throw new Error(
          `LOOKOUT_EGRESS_PRIVATE_DESTINATIONS: ${JSON.stringify(entry)} is not host:port (a host name or address and a port, e.g. ghe.internal:443).`,
        );
      }
      return { host, port };
    });
}

/** Lowercase, without a trailing dot or IPv6 brackets. */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");
}

function matches(host: string, pattern: string): boolean {
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1));
  return host === pattern;
}

/**
 * The address to connect to for `host:port`, or `EgressRefused`. The name must be allowed by the
 * policy, and every address it resolves to must be public: a name that resolves to a private
 * address is refused outright rather than filtered, and the connection goes to the checked address
 * (never a second lookup), so DNS rebinding cannot slip a private address in. The one exception is
 * a destination the operator listed in `privateDestinations`, matched on host and port exactly: its
 * private addresses are admitted, still resolved once and connected to as checked. Without a
 * port nothing matches a listed destination.
 */
export async function resolveEgress(rawHost: string, rules: EgressRules, port?: number): Promise<string> {
  const host = normalizeHost(rawHost);
  if (host === "") throw new EgressRefused("The destination has no host.");
  const always = rules.alwaysAllowHosts.some((allowed) => normalizeHost(allowed) === host);
  if (!always) {
    if (rules.policy.mode === "none") {
      throw new EgressRefused(`Lookout's egress policy allows no internet access from this sandbox (refused ${host}).`);
    }
    if (rules.policy.mode === "allowlist" && !rules.policy.hosts.some((pattern) => matches(host, pattern))) {
      throw new EgressRefused(`Lookout's egress policy does not list ${host}; allowed: ${rules.policy.hosts.join(", ")}.`);
    }
  }
  const addresses = isIP(host) !== 0 ? [host] : (await lookupOrRefuse(host, rules.resolve)).map((entry) => entry.address);
  if (addresses.length === 0) throw new EgressRefused(`${host} has no address.`);
  const listed = (rules.privateDestinations ?? []).some(
    (destination) => destination.host === host && port !== undefined && destination.port === port,
  );
  const blocked = listed ? undefined : addresses.find((address) => !rules.addresses.isReachable(address));
  if (blocked !== undefined) {
    throw new EgressRefused(
      `${host} resolves to ${blocked}, a private, loopback or link-local address of the host's networks; sandboxes reach only public addresses (and the operator's LOOKOUT_EGRESS_PRIVATE_DESTINATIONS).`,
    );
  }
  return addresses[0] as string;
}

async function lookupOrRefuse(host: string, resolve: Resolver): Promise<{ address: string; family: number }[]> {
  try {
    return await resolve(host);
  } catch {
    throw new EgressRefused(`${host} could not be resolved.`);
  }
}
