import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { LookoutError, localRepositoryPath } from "@lookout/protocol";
import { describeError, type Logger } from "@lookout/sandbox";
import { sendJson } from "../http";
import { EgressRefused, resolveEgress, type EgressRules } from "./egress";

/** What one sandbox's relay forwards, and where. */
export interface RelayTarget {
  readonly sessionId: string;
  readonly sandboxId: string;
  /** The control plane as the gateway reaches it (the session's bridge routes go here). */
  readonly controlPlaneUrl: string;
  /** The gateway itself (its git endpoint and model proxy). */
  readonly gatewayUrl: string;
}

export interface Relay {
  readonly socketPath: string;
  /** Serves another session from now on (a warm-pool sandbox claimed by a session). */
  retarget(target: RelayTarget): void;
  close(): Promise<void>;
}

/** Headers that describe one hop or the proxy itself; never forwarded. */
const HOP_HEADERS = new Set(["proxy-authorization", "proxy-connection", "keep-alive", "te", "trailer"]);
const STATUS_TEXT: Readonly<Record<number, string>> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 502: "Bad Gateway" };

type Upstream = "control-plane" | "gateway";

/** The session's own Lookout routes a sandbox may call, with the one method each takes. */
const SESSION_ROUTES: Readonly<Record<string, string>> = { bridge: "GET", "git-credentials": "POST", "pull-request": "POST" };
const GIT_ROUTES: Readonly<Record<string, string>> = { "info/refs": "GET", "git-upload-pack": "POST", "git-receive-pack": "POST" };
/** A warm-pool sandbox's channel to the gateway (`pool/bridge-routes.ts`), authenticated by its pool token. */
const POOL_ROUTES: Readonly<Record<string, string>> = { report: "POST", "git-credentials": "POST", claim: "GET" };
/** A repository image build's channel to the gateway (`images/routes.ts`), authenticated by its build token. */
const IMAGE_BUILD_ROUTES: Readonly<Record<string, string>> = { report: "POST", "git-credentials": "POST" };

/**
 * The upstream of an origin-form request, or undefined. Only the sandbox's own session's bridge
 * routes, its own local repository and the model proxy are forwarded, each with its one method;
 * paths are matched whole, so `..` segments and encoded slashes never match.
 */
export function routeOf(method: string, path: string, sessionId: string): Upstream | undefined {
  const pathname = path.split("?")[0] ?? "";
  if (pathname.includes("..") || pathname.includes("%") || pathname.includes("//")) return undefined;
  const session = `/api/sessions/${sessionId}/`;
  if (pathname.startsWith(session) && SESSION_ROUTES[pathname.slice(session.length)] === method) return "control-plane";
  const repository = `/${localRepositoryPath(sessionId)}/`;
  if (pathname.startsWith(repository) && GIT_ROUTES[pathname.slice(repository.length)] === method) return "gateway";
  const pool = `/pool-bridge/${sessionId}/`;
  if (pathname.startsWith(pool) && POOL_ROUTES[pathname.slice(pool.length)] === method) return "gateway";
  const build = `/image-build/${sessionId}/`;
  if (pathname.startsWith(build) && IMAGE_BUILD_ROUTES[pathname.slice(build.length)] === method) return "gateway";
  if (/^\/model-proxy\/[a-z0-9][a-z0-9._-]*(\/|$)/.test(pathname)) return "gateway";
  return undefined;
}

/**
 * One sandbox's way out: an HTTP server on a Unix socket that only that sandbox can reach. It is
 * a reverse proxy for the session's Lookout routes (the bridge's socket, git credentials, the pull
 * request tool, git, the model proxy) and a forward proxy (`CONNECT` and absolute-form requests)
 * for the internet under the egress rules. Everything else is refused.
 */
export async function startRelay(socketPath: string, initial: RelayTarget, egress: EgressRules, logger: Logger): Promise<Relay> {
  let target = initial;
  const log = logger.child({ sandboxId: target.sandboxId });
  const upstreamBase = (upstream: Upstream) => (upstream === "control-plane" ? target.controlPlaneUrl : target.gatewayUrl);
  const open = new Set<Duplex>();
  const track = (socket: Duplex) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  };

  const server = createServer((request, response) => {
    const url = request.url ?? "/";
    if (/^https?:\/\//i.test(url)) {
      forwardAbsolute(request, response, egress, log);
      return;
    }
    const upstream = routeOf(request.method ?? "", url, target.sessionId);
    if (!upstream) {
      log.info("relay refused a request", { method: request.method, path: url.split("?")[0] });
      request.resume();
      sendJson(response, 404, new LookoutError("NOT_FOUND", "The sandbox relay forwards only the session's own Lookout routes.").toBody());
      return;
    }
    reverseProxy(request, response, joinUrl(upstreamBase(upstream), url), log);
  });
  server.on("connection", track);

  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = request.url ?? "/";
    const upstream = routeOf(request.method ?? "", url, target.sessionId);
    if (!upstream) {
      refuseRaw(socket, 404, "The sandbox relay forwards only the session's own Lookout routes.");
      return;
    }
    proxyUpgrade(request, socket, head, joinUrl(upstreamBase(upstream), url), log);
  });

  server.on("connect", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void tunnel(request.url ?? "", socket, head, egress, log);
  });

  server.on("clientError", (_error, socket) => refuseRaw(socket, 400, "Malformed request."));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    socketPath,
    retarget: (next) => {
      target = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of open) socket.destroy();
      }),
  };
}

function joinUrl(base: string, pathAndQuery: string): URL {
  const url = new URL(base);
  const [path = "", query] = pathAndQuery.split(/\?(.*)/s, 2);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${path}`;
  url.search = query ? `?${query}` : "";
  return url;
}

function forwardedHeaders(headers: IncomingHttpHeaders, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_HEADERS.has(name)) out[name] = value;
  }
  out.host = host;
  return out;
}

function reverseProxy(request: IncomingMessage, response: ServerResponse, url: URL, log: Logger): void {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const outgoing = send(url, { method: request.method, headers: forwardedHeaders(request.headers, url.host) }, (incoming) => {
    response.writeHead(incoming.statusCode ?? 502, incoming.statusMessage, withoutHop(incoming.headers));
    response.flushHeaders();
    incoming.pipe(response);
    incoming.on("error", () => response.destroy());
  });
  outgoing.on("error", (error) => {
    log.warn("relay upstream failed", { path: url.pathname, error: describeError(error) });
    if (response.headersSent) response.destroy();
    else sendJson(response, 502, new LookoutError("PROVIDER_TRANSIENT", "Lookout could not be reached from the relay.").toBody());
  });
  response.on("close", () => {
    if (!response.writableFinished) outgoing.destroy();
  });
  request.pipe(outgoing);
}

function withoutHop(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && name !== "connection" && name !== "keep-alive" && name !== "transfer-encoding") out[name] = value;
  }
  return out;
}

function proxyUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL, log: Logger): void {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const outgoing = send(url, { method: request.method, headers: forwardedHeaders(request.headers, url.host) });
  outgoing.on("upgrade", (incoming: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
    socket.write(responseHead(incoming));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstream.write(head);
    splice(socket, upstream);
  });
  // The upstream refused the upgrade (401, 404, …): pass its answer on and close.
  outgoing.on("response", (incoming: IncomingMessage) => {
    socket.write(responseHead(incoming));
    incoming.pipe(socket);
  });
  outgoing.on("error", (error) => {
    log.warn("relay upgrade failed", { path: url.pathname, error: describeError(error) });
    refuseRaw(socket, 502, "Lookout could not be reached from the relay.");
  });
  socket.on("error", () => outgoing.destroy());
  outgoing.end();
}

function responseHead(incoming: IncomingMessage): string {
  const lines = [`HTTP/1.1 ${incoming.statusCode ?? 502} ${incoming.statusMessage ?? ""}`];
  for (let index = 0; index + 1 < incoming.rawHeaders.length; index += 2) {
    lines.push(`${incoming.rawHeaders[index]}: ${incoming.rawHeaders[index + 1]}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Pipes two sockets into each other until either ends; an error on one closes both. */
function splice(a: Duplex, b: Duplex): void {
  const destroy = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", destroy);
  b.on("error", destroy);
  a.on("close", destroy);
  b.on("close", destroy);
  a.pipe(b);
  b.pipe(a);
}

function refuseRaw(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ""}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-lookout-egress: refused\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** `host:port` of a CONNECT request, IPv6 hosts in brackets. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+):(\d{1,5})$/.exec(authority);
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1], port };
}

async function tunnel(authority: string, socket: Duplex, head: Buffer, egress: EgressRules, log: Logger): Promise<void> {
  socket.on("error", () => socket.destroy());
  const destination = parseAuthority(authority);
  if (!destination) {
    refuseRaw(socket, 400, `CONNECT needs host:port (got ${JSON.stringify(authority.slice(0, 200))}).`);
    return;
  }
  let address: string;
  try {
    address = await resolveEgress(destination.host, egress, destination.port);
  } catch (error) {
    const message = error instanceof EgressRefused ? error.message : "The destination could not be checked.";
    log.info("egress refused", { host: destination.host, port: destination.port, reason: message });
    refuseRaw(socket, 403, message);
    return;
  }
  const upstream = connect({ host: address, port: destination.port });
  upstream.once("connect", () => {
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    splice(socket, upstream);
  });
  upstream.once("error", (error) => {
    log.info("egress connection failed", { host: destination.host, port: destination.port, error: describeError(error) });
    refuseRaw(socket, 502, `Could not connect to ${destination.host}:${destination.port}.`);
  });
}

function forwardAbsolute(request: IncomingMessage, response: ServerResponse, egress: EgressRules, log: Logger): void {
  let url: URL;
  try {
    url = new URL(request.url ?? "");
  } catch {
    request.resume();
    sendJson(response, 400, new LookoutError("VALIDATION_FAILED", "The proxy request's URL is malformed.").toBody());
    return;
  }
  if (url.protocol !== "http:") {
    request.resume();
    sendJson(response, 400, new LookoutError("VALIDATION_FAILED", "Use CONNECT for https through this proxy.").toBody());
    return;
  }
  const port = Number(url.port || 80);
  resolveEgress(url.hostname, egress, port).then(
    (address) => {
      const headers = forwardedHeaders(request.headers, url.host);
      const outgoing = httpRequest(
        { host: address, port, path: `${url.pathname}${url.search}`, method: request.method, headers, setHost: false },
        (incoming) => {
          response.writeHead(incoming.statusCode ?? 502, incoming.statusMessage, withoutHop(incoming.headers));
          incoming.pipe(response);
        },
      );
      outgoing.on("error", () => {
        if (response.headersSent) response.destroy();
        else {
          response.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
          response.end(`Could not connect to ${url.host}.\n`);
        }
      });
      request.pipe(outgoing);
    },
    (error: unknown) => {
      const message = error instanceof EgressRefused ? error.message : "The destination could not be checked.";
      log.info("egress refused", { host: url.hostname, reason: message });
      request.resume();
      response.writeHead(403, { "content-type": "text/plain; charset=utf-8", "x-lookout-egress": "refused" });
      response.end(`${message}\n`);
    },
  );
}
