import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";

/**
 * Address ranges no sandbox may reach through the relay, whatever its egress policy: this host,
 * private networks, link-local (cloud metadata services live at 169.254.169.254), carrier-grade
 * NAT, multicast and reserved space. IPv4-mapped IPv6 addresses are matched against the IPv4 rules.
 */
const BLOCKED_IPV4: readonly (readonly [string, number])[] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];
const BLOCKED_IPV6: readonly (readonly [string, number])[] = [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  // NAT64 and 6to4 embed IPv4 addresses that may be private; nothing legitimate needs them here.
  ["64:ff9b::", 96],
  ["2002::", 16],
];

export interface AddressPolicy {
  /** True when `address` (an IP literal) is a public address that is not this host's own. */
  isReachable(address: string): boolean;
}

/**
 * The relay's address policy. The host's own interface addresses are blocked too: services that
 * listen on all interfaces must not be reachable through a public address of this machine.
 */
export function createAddressPolicy(extraBlocked: readonly string[] = hostAddresses()): AddressPolicy {
  const blocked = new BlockList();
  for (const [network, prefix] of BLOCKED_IPV4) blocked.addSubnet(network, prefix, "ipv4");
  for (const [network, prefix] of BLOCKED_IPV6) blocked.addSubnet(network, prefix, "ipv6");
  for (const address of extraBlocked) {
    const family = isIP(address);
    if (family === 4) blocked.addAddress(address, "ipv4");
    else if (family === 6) blocked.addAddress(address, "ipv6");
  }
  return {
    isReachable(address) {
      const family = isIP(address);
      if (family === 0) return false;
      return !blocked.check(address, family === 4 ? "ipv4" : "ipv6");
    },
  };
}

function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .map((entry) => entry.address.split("%")[0] ?? entry.address);
}
