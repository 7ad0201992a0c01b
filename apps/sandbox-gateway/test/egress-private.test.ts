import { createServer, request, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { silentLogger } from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAddressPolicy } from "../src/relay/address-policy";
import { EgressRefused, privateDestinationsFromEnv, resolveEgress, type EgressRules, type Resolver } from "../src/relay/egress";
import { SandboxRelays } from "../src/relay/relays";

/**
 * The operator's opt-in for named private destinations (`LOOKOUT_EGRESS_PRIVATE_DESTINATIONS`, a
 * GitHub Enterprise Server on a private network): exactly the listed host and port pass, with the
 * connection going to the address that was checked; everything else private stays refused.
 */

const SESSION = "session-private";

function tableResolver(table: Record<string, string[]>): Resolver {
  return async (host) => {
    const addresses = table[host];
    if (!addresses) throw new Error(`ENOTFOUND ${host}`);
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
}

describe("private destinations in the egress rules", () => {
  const rules: EgressRules = {
    policy: { mode: "public" },
    alwaysAllowHosts: [],
    addresses: createAddressPolicy([]),
    resolve: tableResolver({ "ghe.internal": ["10.0.0.5"], "other.internal": ["10.0.0.6"], "mixed.internal": ["10.0.0.5", "127.0.0.1"] }),
    privateDestinations: [
      { host: "ghe.internal", port: 443 },
      { host: "10.0.0.9", port: 8080 },
      { host: "mixed.internal", port: 443 },
    ],
  };

  it("admits exactly the listed host and port, connecting to the checked address", async () => {
    expect(await resolveEgress("ghe.internal", rules, 443)).toBe("10.0.0.5");
    expect(await resolveEgress("GHE.internal.", rules, 443)).toBe("10.0.0.5");
    expect(await resolveEgress("10.0.0.9", rules, 8080)).toBe("10.0.0.9");
    expect(await resolveEgress("mixed.internal", rules, 443)).toBe("10.0.0.5");
  });

  it("refuses the listed host on another port, other private hosts, and a listed address reached by another name", async () => {
    await expect(resolveEgress("ghe.internal", rules, 22)).rejects.toThrow(EgressRefused);
    await expect(resolveEgress("ghe.internal", rules)).rejects.toThrow(/10\.0\.0\.5/);
    await expect(resolveEgress("other.internal", rules, 443)).rejects.toThrow(/10\.0\.0\.6/);
    await expect(resolveEgress("10.0.0.5", rules, 443)).rejects.toThrow(EgressRefused);
    await expect(resolveEgress("10.0.0.9", rules, 80)).rejects.toThrow(EgressRefused);
    await expect(resolveEgress("127.0.0.1", rules, 443)).rejects.toThrow(EgressRefused);
  });

  it("still applies the name policy to a listed destination", async () => {
    const none = { ...rules, policy: { mode: "none" as const } };
    await expect(resolveEgress("ghe.internal", none, 443)).rejects.toThrow(/allows no internet access/);
    expect(await resolveEgress("ghe.internal", { ...none, alwaysAllowHosts: ["ghe.internal"] }, 443)).toBe("10.0.0.5");
  });

  it("reads the opt-in from the environment: empty by default, malformed entries refused", () => {
    expect(privateDestinationsFromEnv({})).toEqual([]);
    expect(privateDestinationsFromEnv({ LOOKOUT_EGRESS_PRIVATE_DESTINATIONS: " GHE.Internal:443 , 10.0.0.9:8080,[fd00::5]:443" })).toEqual([
      { host: "ghe.internal", port: 443 },
      { host: "10.0.0.9", port: 8080 },
      { host: "fd00::5", port: 443 },
    ]);
    for (const entry of ["ghe.internal", "ghe.internal:0", "ghe.internal:70000", "*.internal:443", "https://ghe.internal:443", ":443"]) {
      expect(() => privateDestinationsFromEnv({ LOOKOUT_EGRESS_PRIVATE_DESTINATIONS: entry }), entry).toThrow(
        /LOOKOUT_EGRESS_PRIVATE_DESTINATIONS/,
      );
    }
  });
});

describe("a relay with a private destination, under the real address policy", () => {
  let listed: Server;
  let unlisted: Server;
  let listedPort: number;
  let unlistedPort: number;
  let relays: SandboxRelays;
  let socketPath: string;

  const listen = async (server: Server): Promise<number> => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  };

  beforeAll(async () => {
    listed = createServer((incoming, response) => response.end(`listed service ${incoming.url ?? ""}`));
    unlisted = createServer((_incoming, response) => response.end("unlisted service"));
    listedPort = await listen(listed);
    unlistedPort = await listen(unlisted);
    relays = await SandboxRelays.create({
      egress: { mode: "public" },
      logger: silentLogger,
      resolve: tableResolver({ localhost: ["127.0.0.1"] }),
      privateDestinations: privateDestinationsFromEnv({ LOOKOUT_EGRESS_PRIVATE_DESTINATIONS: `127.0.0.1:${listedPort}` }),
    });
    socketPath = await relays.open(
      { sessionId: SESSION, sandboxId: "sbx-private", controlPlaneUrl: "http://127.0.0.1:1", gatewayUrl: "http://127.0.0.1:1" },
      [],
    );
  });

  afterAll(async () => {
    await relays.closeAll();
    for (const server of [listed, unlisted]) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });

  it("reaches the listed host:port by CONNECT and by an absolute-form request", async () => {
    const tunnel = await rawExchange(
      socketPath,
      `CONNECT 127.0.0.1:${listedPort} HTTP/1.1\r\nhost: 127.0.0.1:${listedPort}\r\n\r\nGET /through HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      /listed service \/through/,
    );
    expect(tunnel).toMatch(/^HTTP\/1\.1 200 Connection Established/);
    expect(tunnel).toContain("listed service /through");
    const viaHttp = await httpOverSocket(socketPath, "GET", `http://127.0.0.1:${listedPort}/plain`);
    expect(viaHttp).toEqual({ status: 200, body: "listed service /plain" });
  });

  it("refuses the same host on another port and the same service under another name", async () => {
    for (const authority of [`127.0.0.1:${unlistedPort}`, `localhost:${listedPort}`, `127.0.0.2:${listedPort}`]) {
      const answer = await rawExchange(socketPath, `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`);
      expect(answer, authority).toMatch(/^HTTP\/1\.1 403/);
      const viaHttp = await httpOverSocket(socketPath, "GET", `http://${authority}/`);
      expect(viaHttp.status, authority).toBe(403);
      expect(viaHttp.body).not.toContain("service");
    }
  });
});

/** Sends raw bytes over a Unix socket and collects everything until the peer closes or `until` matches. */
function rawExchange(path: string, payload: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let received = "";
    socket.on("connect", () => socket.write(payload));
    socket.on("data", (chunk) => {
      received += chunk.toString("utf8");
      if (until?.test(received)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}

function httpOverSocket(path: string, method: string, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ socketPath: path, method, path: target, headers: { host: "relay" } }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}
