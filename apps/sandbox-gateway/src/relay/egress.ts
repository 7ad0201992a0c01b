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

export interface EgressRules {
  readonly policy: SandboxEgress;
  /** Host names always allowed, whatever the policy (the session's own remote repository host). */
  readonly alwaysAllowHosts: readonly string[];
  readonly addresses: AddressPolicy;
  readonly resolve: Resolver;
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
 * The address to connect to for `host`, or `EgressRefused`. The name must be allowed by the policy,
 * and every address it resolves to must be public: a name that resolves to a private address is
 * refused outright rather than filtered, and the connection goes to the checked address (never a
 * second lookup), so DNS rebinding cannot slip a private address in.
 */
export async function resolveEgress(rawHost: string, rules: EgressRules): Promise<string> {
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
  const blocked = addresses.find((address) => !rules.addresses.isReachable(address));
  if (blocked !== undefined) {
    throw new EgressRefused(
      `${host} resolves to ${blocked}, a private, loopback or link-local address of the host's networks; sandboxes reach only public addresses.`,
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
