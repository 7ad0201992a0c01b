import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Duplex } from "node:stream";
import { silentLogger } from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAddressPolicy, type AddressPolicy } from "../src/relay/address-policy";
import { EgressRefused, egressFromEnv, resolveEgress, type EgressRules, type Resolver } from "../src/relay/egress";
import { parseAuthority, routeOf } from "../src/relay/relay";
import { SandboxRelays } from "../src/relay/relays";

const SESSION = "session-1";

/** A resolver from a fixed table, so no test depends on the machine's DNS. */
function tableResolver(table: Record<string, string[]>): Resolver {
  return async (host) => {
    const addresses = table[host];
    if (!addresses) throw new Error(`ENOTFOUND ${host}`);
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
}

describe("the address policy", () => {
  const policy = createAddressPolicy(["203.0.113.7"]);

  it.each([
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.20.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fd00::1",
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "203.0.113.7",
    "not-an-ip",
  ])("refuses %s", (address) => {
    expect(policy.isReachable(address)).toBe(false);
  });

  it.each(["8.8.8.8", "1.1.1.1", "203.0.113.80", "2606:4700:4700::1111"])("admits the public address %s", (address) => {
    expect(policy.isReachable(address)).toBe(true);
  });

  it("blocks this host's own interface addresses by default", () => {
    const own = createAddressPolicy();
    for (const entry of Object.values(networkInterfaces()).flatMap((entries) => entries ?? [])) {
      expect(own.isReachable(entry.address.split("%")[0] ?? entry.address), entry.address).toBe(false);
    }
  });
});

describe("egress rules", () => {
  const addresses = createAddressPolicy([]);
  const resolve = tableResolver({
    "registry.npmjs.org": ["203.0.113.80"],
    "files.pythonhosted.org": ["151.101.0.223"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "git.example.com": ["140.82.112.3"],
  });
  const rules = (policy: EgressRules["policy"], alwaysAllowHosts: string[] = []): EgressRules => ({
    policy,
    alwaysAllowHosts,
    addresses,
    resolve,
  });

  it("public: any name that resolves only to public addresses, pinned to the checked address", async () => {
    expect(await resolveEgress("registry.npmjs.org", rules({ mode: "public" }))).toBe("203.0.113.80");
    expect(await resolveEgress("REGISTRY.npmjs.org.", rules({ mode: "public" }))).toBe("203.0.113.80");
  });

  it("refuses names resolving to any private address, loopback literals and unresolvable names", async () => {
    await expect(resolveEgress("rebind.example", rules({ mode: "public" }))).rejects.toThrow(/127\.0\.0\.1/);
    await expect(resolveEgress("metadata.example", rules({ mode: "public" }))).rejects.toThrow(EgressRefused);
    await expect(resolveEgress("127.0.0.1", rules({ mode: "public" }))).rejects.toThrow(EgressRefused);
    await expect(resolveEgress("[::1]", rules({ mode: "public" }))).rejects.toThrow(EgressRefused);
    await expect(resolveEgress("nowhere.example", rules({ mode: "public" }))).rejects.toThrow(/could not be resolved/);
  });

  it("allowlist: listed names and subdomains of wildcard entries only", async () => {
    const allow = rules({ mode: "allowlist", hosts: ["registry.npmjs.org", "*.pythonhosted.org"] });
    expect(await resolveEgress("registry.npmjs.org", allow)).toBe("203.0.113.80");
    expect(await resolveEgress("files.pythonhosted.org", allow)).toBe("151.101.0.223");
    await expect(resolveEgress("pythonhosted.org", allow)).rejects.toThrow(/does not list/);
    await expect(resolveEgress("git.example.com", allow)).rejects.toThrow(/does not list/);
  });

  it("none: nothing but the repository's own host; private addresses stay refused even there", async () => {
    const none = rules({ mode: "none" }, ["git.example.com", "metadata.example"]);
    await expect(resolveEgress("registry.npmjs.org", none)).rejects.toThrow(/no internet access/);
    expect(await resolveEgress("git.example.com", none)).toBe("140.82.112.3");
    await expect(resolveEgress("metadata.example", none)).rejects.toThrow(/169\.254\.169\.254/);
  });

  it("reads the policy from the environment and refuses a malformed one", () => {
    expect(egressFromEnv({})).toEqual({ mode: "public" });
    expect(egressFromEnv({ LOOKOUT_SANDBOX_EGRESS: "none" })).toEqual({ mode: "none" });
    expect(egressFromEnv({ LOOKOUT_SANDBOX_EGRESS: "allowlist", LOOKOUT_SANDBOX_EGRESS_ALLOW: "registry.npmjs.org, *.PyPI.org" })).toEqual({
      mode: "allowlist",
      hosts: ["registry.npmjs.org", "*.pypi.org"],
    });
    expect(() => egressFromEnv({ LOOKOUT_SANDBOX_EGRESS: "everything" })).toThrow(/public.*allowlist.*none/);
    expect(() => egressFromEnv({ LOOKOUT_SANDBOX_EGRESS: "allowlist" })).toThrow(/LOOKOUT_SANDBOX_EGRESS_ALLOW/);
    expect(() => egressFromEnv({ LOOKOUT_SANDBOX_EGRESS: "allowlist", LOOKOUT_SANDBOX_EGRESS_ALLOW: "http://x" })).toThrow(/host name/);
  });
});

describe("relay routes", () => {
  it.each([
    ["GET", "/api/sessions/session-1/bridge", "control-plane"],
    ["POST", "/api/sessions/session-1/git-credentials", "control-plane"],
    ["POST", "/api/sessions/session-1/pull-request", "control-plane"],
    ["GET", "/git/session-1.git/info/refs?service=git-upload-pack", "gateway"],
    ["POST", "/git/session-1.git/git-receive-pack", "gateway"],
    ["POST", "/model-proxy/anthropic/v1/messages", "gateway"],
    ["GET", "/model-proxy/scripted/models", "gateway"],
    ["POST", "/image-build/session-1/report", "gateway"],
    ["POST", "/image-build/session-1/git-credentials", "gateway"],
  ])("forwards %s %s to the %s", (method, path, upstream) => {
    expect(routeOf(method, path, SESSION)).toBe(upstream);
  });

  it.each([
    ["DELETE", "/api/sessions/session-1/bridge"],
    ["GET", "/api/sessions/session-1/git-credentials"],
    ["PUT", "/api/sessions/session-1/pull-request"],
    ["DELETE", "/git/session-1.git/git-receive-pack"],
    ["GET", "/image-build/session-1/report"],
  ])("refuses %s %s (each route takes one method)", (method, path) => {
    expect(routeOf(method, path, SESSION)).toBeUndefined();
  });

  it.each([
    "/api/sessions/session-2/bridge",
    "/api/sessions/session-1/events",
    "/api/sessions",
    "/api/sessions/session-1/bridge/../../session-2/bridge",
    "/api/sessions/session-1%2F..%2Fsession-2/bridge",
    "/git/session-2.git/info/refs",
    "/git/session-1.git/../session-2.git/info/refs",
    "/image-build/session-2/report",
    "/image-build/session-1/claim",
    "/v1/sandboxes",
    "/v1/git/branches",
    "/auth/login",
    "/healthz",
    "/model-proxy/",
  ])("refuses %s", (path) => {
    for (const method of ["GET", "POST"]) expect(routeOf(method, path, SESSION)).toBeUndefined();
  });

  it("parses CONNECT authorities strictly", () => {
    expect(parseAuthority("registry.npmjs.org:443")).toEqual({ host: "registry.npmjs.org", port: 443 });
    expect(parseAuthority("[2606:4700::1111]:443")).toEqual({ host: "[2606:4700::1111]", port: 443 });
    expect(parseAuthority("registry.npmjs.org")).toBeUndefined();
    expect(parseAuthority("host:0")).toBeUndefined();
    expect(parseAuthority("host:70000")).toBeUndefined();
    expect(parseAuthority("a/b:443")).toBeUndefined();
  });
});

/** Sends raw bytes over a Unix socket and collects everything until the peer closes or `until` matches. */
function rawExchange(socketPath: string, payload: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
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

function httpOverSocket(socketPath: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ socketPath, method, path, headers: { host: "relay", "content-type": "application/json" } }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

describe("a sandbox's relay", () => {
  let upstream: Server;
  let upstreamUrl: string;
  let relays: SandboxRelays;
  let socketPath: string;
  const seen: { method?: string; url?: string; body: string; host?: string }[] = [];
  const upgraded = new Set<Duplex>();

  beforeAll(async () => {
    // Plays both the control plane and the gateway: records what reaches it, echoes upgrades.
    upstream = createServer((incoming: IncomingMessage, response) => {
      let body = "";
      incoming.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      incoming.on("end", () => {
        seen.push({ method: incoming.method, url: incoming.url, body, host: incoming.headers.host });
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, url: incoming.url }));
      });
    });
    upstream.on("upgrade", (incoming: IncomingMessage, socket: Duplex) => {
      upgraded.add(socket);
      seen.push({ method: "UPGRADE", url: incoming.url, body: "" });
      socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n");
      socket.on("data", (chunk: Buffer) => socket.write(`echo:${chunk.toString("utf8")}`));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // Loopback counts as public here only so a tunnel can be shown end to end; the real policy
    // refuses it (see "the address policy" above and the refusals below).
    const loopbackIsPublic: AddressPolicy = { isReachable: (address) => address === "127.0.0.1" };
    relays = await SandboxRelays.create({
      egress: { mode: "allowlist", hosts: ["tunnel.example"] },
      logger: silentLogger,
      addresses: loopbackIsPublic,
      resolve: tableResolver({ "tunnel.example": ["127.0.0.1"], "private.example": ["10.0.0.8"] }),
    });
    socketPath = await relays.open({ sessionId: SESSION, sandboxId: "sbx-1", controlPlaneUrl: upstreamUrl, gatewayUrl: upstreamUrl }, []);
  });

  afterAll(async () => {
    await relays.closeAll();
    for (const socket of upgraded) socket.destroy();
    await new Promise<void>((resolve) => {
      upstream.close(() => resolve());
      upstream.closeAllConnections();
    });
  });

  it("keeps its sockets in a directory only the gateway's user can enter, whatever a sandbox does to its own socket file", async () => {
    const dir = await stat(dirname(socketPath));
    expect(dir.mode & 0o777).toBe(0o700);
    expect(dir.uid).toBe(process.getuid?.());
  });

  it("forwards the session's own routes with their bodies, and nothing else", async () => {
    const credentials = await httpOverSocket(socketPath, "POST", `/api/sessions/${SESSION}/git-credentials`, '{"operation":"push"}');
    expect(credentials.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: "POST", url: `/api/sessions/${SESSION}/git-credentials`, body: '{"operation":"push"}' });
    expect(seen.at(-1)?.host).toBe(new URL(upstreamUrl).host);

    const count = seen.length;
    for (const path of ["/api/sessions/session-2/git-credentials", "/api/sessions", "/v1/sandboxes", "/auth/login"]) {
      const refused = await httpOverSocket(socketPath, "POST", path, "{}");
      expect(refused.status, path).toBe(404);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: "NOT_FOUND" } });
    }
    expect(seen.length).toBe(count);
  });

  it("carries the bridge's WebSocket upgrade both ways, for its own session only", async () => {
    const upgrade = `GET /api/sessions/${SESSION}/bridge HTTP/1.1\r\nhost: relay\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n`;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(socketPath);
      let received = "";
      socket.on("connect", () => socket.write(upgrade));
      socket.on("data", (chunk) => {
        received += chunk.toString("utf8");
        if (received.includes("\r\n\r\n") && !received.includes("echo:")) socket.write("ping");
        if (received.includes("echo:ping")) {
          socket.destroy();
          resolve(received);
        }
      });
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 101/);
    expect(answer).toContain("echo:ping");

    const other = await rawExchange(
      socketPath,
      "GET /api/sessions/session-2/bridge HTTP/1.1\r\nhost: relay\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
    );
    expect(other).toMatch(/^HTTP\/1\.1 404/);
  });

  it("tunnels CONNECT to an allowed destination and refuses the rest with a reason", async () => {
    const port = new URL(upstreamUrl).port;
    const tunnel = await rawExchange(
      socketPath,
      `CONNECT tunnel.example:${port} HTTP/1.1\r\nhost: tunnel.example:${port}\r\n\r\nGET /through-the-tunnel HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      /"url":"\/through-the-tunnel"/,
    );
    expect(tunnel).toMatch(/^HTTP\/1\.1 200 Connection Established/);
    expect(tunnel).toContain('"url":"/through-the-tunnel"');

    const unlisted = await rawExchange(socketPath, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    expect(unlisted).toMatch(/^HTTP\/1\.1 403/);
    expect(unlisted).toContain("does not list 127.0.0.1");

    const malformed = await rawExchange(socketPath, "CONNECT nonsense HTTP/1.1\r\nhost: x\r\n\r\n");
    expect(malformed).toMatch(/^HTTP\/1\.1 400/);
  });

  it("refuses absolute-form proxy requests the policy does not admit", async () => {
    const refused = await httpOverSocket(socketPath, "GET", "http://private.example/latest/meta-data");
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("does not list private.example");
  });

  it("closes with its sandbox: nothing connects afterwards", async () => {
    const path = await relays.open(
      { sessionId: "session-9", sandboxId: "sbx-9", controlPlaneUrl: upstreamUrl, gatewayUrl: upstreamUrl },
      [],
    );
    expect((await httpOverSocket(path, "POST", "/api/sessions/session-9/git-credentials", "{}")).status).toBe(200);
    await relays.close("sbx-9");
    await expect(httpOverSocket(path, "POST", "/api/sessions/session-9/git-credentials", "{}")).rejects.toThrow();
  });
});

describe("the relay with the real address policy", () => {
  it("refuses every host listener, by address and by name", async () => {
    const listener = createServer((_request, response) => response.end("host service"));
    await new Promise<void>((resolve) => listener.listen(0, "0.0.0.0", resolve));
    const port = (listener.address() as AddressInfo).port;
    const relays = await SandboxRelays.create({
      egress: { mode: "public" },
      logger: silentLogger,
      resolve: tableResolver({ localhost: ["127.0.0.1", "::1"] }),
    });
    try {
      const socketPath = await relays.open(
        { sessionId: SESSION, sandboxId: "sbx-real", controlPlaneUrl: "http://127.0.0.1:1", gatewayUrl: "http://127.0.0.1:1" },
        [],
      );
      const hosts = [
        "127.0.0.1",
        "localhost",
        "[::1]",
        ...Object.values(networkInterfaces())
          .flatMap((entries) => entries ?? [])
          .filter((entry) => entry.family === "IPv4")
          .map((entry) => entry.address),
      ];
      for (const host of hosts) {
        const answer = await rawExchange(socketPath, `CONNECT ${host}:${port} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
        expect(answer, host).toMatch(/^HTTP\/1\.1 403/);
        const viaHttp = await httpOverSocket(socketPath, "GET", `http://${host}:${port}/`);
        expect(viaHttp.status, host).toBe(403);
        expect(viaHttp.body).not.toContain("host service");
      }
    } finally {
      await relays.closeAll();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });
});
