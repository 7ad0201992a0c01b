import { BRIDGE_ENV, ModelProviderConfigList } from "@lookout/protocol";
import { providerError } from "./errors";
import type { SandboxCreateConfig } from "./provider";

/**
 * Private, loopback, link-local (cloud metadata) and carrier-grade NAT ranges: never a sandbox's
 * business, whatever the egress policy. Vendors that filter by CIDR get these as a deny list.
 */
export const PRIVATE_CIDRS = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "fc00::/7",
  "fe80::/10",
] as const;

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * The hosts a vendor sandbox must reach whatever the policy: the control plane (the bridge's socket,
 * git credentials), the repository's host, and the model proxy. Read from the bridge's environment,
 * so they are exactly what the bridge will dial.
 */
export function lookoutHosts(env: Readonly<Record<string, string>>): string[] {
  const hosts = [hostOf(env[BRIDGE_ENV.controlPlaneUrl]), hostOf(env[BRIDGE_ENV.repoUrl])];
  const providers = ModelProviderConfigList.safeParse(JSON.parse(env[BRIDGE_ENV.modelProviders] ?? "[]"));
  if (providers.success) hosts.push(...providers.data.map((provider) => hostOf(provider.baseUrl)));
  return [...new Set(hosts.filter((host): host is string => host !== undefined))];
}

/**
 * The domains a vendor sandbox may reach, or undefined when the policy is `public` (no domain
 * restriction; private ranges are still denied where the vendor can). `none` leaves Lookout's own
 * hosts only: without them the bridge could not work at all.
 */
export function allowedDomains(config: SandboxCreateConfig): string[] | undefined {
  const egress = config.egress ?? { mode: "public" };
  if (egress.mode === "public") return undefined;
  const extra = egress.mode === "allowlist" ? egress.hosts : [];
  return [...new Set([...lookoutHosts(config.env), ...extra])];
}

/** For vendors that can restrict egress by CIDR only: a domain policy cannot be honoured, so say so. */
export function refuseDomainPolicy(provider: string, config: SandboxCreateConfig): void {
  if ((config.egress?.mode ?? "public") === "public") return;
  throw providerError(
    provider,
    `The ${provider} provider restricts egress by CIDR only, so LOOKOUT_SANDBOX_EGRESS=${config.egress?.mode ?? ""} ` +
      "(domain rules) cannot be enforced there. Use LOOKOUT_SANDBOX_EGRESS=public with this provider, or the Modal or Vercel provider.",
    { kind: "permanent", reason: "unsupported" },
  );
}
