import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { WebSocketServer, type WebSocket } from "ws";
import type { PresenceEntry, ServerMessage } from "@lookout/protocol";
import { ClientMessage } from "@lookout/protocol";
import { handleFakeApi, type FakeApiState } from "../test/fake-api";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
};

export interface FakeServer {
  url: string;
  state: FakeApiState;
  presence: Map<string, PresenceEntry[]>;
  close(): Promise<void>;
}

/**
 * Serves the built dashboard from `distDir` the way the Worker does (static files, SPA fallback,
 * `/api/*` and `/auth/*` to the API) with the in-memory fake API behind it and a session
 * WebSocket that replays stored events after `afterSeq`. Test code only.
 */
export async function startFakeServer(distDir: string, state: FakeApiState): Promise<FakeServer> {
  const presence = new Map<string, PresenceEntry[]>();
  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/auth/")) {
      const body = await readJson(request);
      const answer = handleFakeApi(state, request.method ?? "GET", url.pathname + url.search, body);
      response.writeHead(answer.status, { "content-type": "application/json", ...(answer.headers ?? {}) });
      response.end(answer.body === undefined || answer.status === 204 ? undefined : JSON.stringify(answer.body));
      return;
    }
    const file = resolveAsset(distDir, url.pathname);
    response.writeHead(200, { "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream" });
    response.end(readFileSync(file));
  });

  const sockets = new WebSocketServer({ noServer: true });
  server.on("upgrade", (request, socket, head) => {
    const match = /^\/api\/sessions\/([^/]+)\/ws/.exec(request.url ?? "");
    const sessionId = match?.[1];
    if (!sessionId || !state.sessionStates.has(sessionId)) {
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => serveSession(ws, sessionId, state, presence));
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    presence,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.clients.forEach((client) => client.terminate());
        sockets.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function serveSession(ws: WebSocket, sessionId: string, state: FakeApiState, presence: Map<string, PresenceEntry[]>): void {
  const send = (message: ServerMessage) => ws.send(JSON.stringify(message));
  ws.on("message", (raw) => {
    const parsed = ClientMessage.safeParse(JSON.parse(String(raw)));
    if (!parsed.success) {
      send({ type: "error", code: "INVALID_FRAME", message: "The WebSocket frame does not match the protocol." });
      return;
    }
    const message = parsed.data;
    const session = state.sessionStates.get(sessionId);
    if (!session) return;
    if (message.type === "subscribe") {
      const events = state.events.get(sessionId) ?? [];
      const latestSeq = events.at(-1)?.seq ?? 0;
      send({ type: "hello", connectionId: "c_1", participant: state.me.user, session, latestSeq });
      send({ type: "events", events: events.filter((event) => event.seq > message.afterSeq), replay: true });
      send({ type: "subscribed", latestSeq });
      send({ type: "presence", entries: presence.get(sessionId) ?? [] });
      send({ type: "queue", prompts: state.queues.get(sessionId) ?? [] });
    } else if (message.type === "ping") {
      send({ type: "pong" });
    }
  });
}

function resolveAsset(distDir: string, pathname: string): string {
  const candidate = normalize(join(distDir, decodeURIComponent(pathname)));
  if (candidate.startsWith(distDir) && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return join(distDir, "index.html");
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}
