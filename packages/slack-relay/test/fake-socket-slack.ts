import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * A fake of Slack's Socket Mode, the way Slack documents it: `POST apps.connections.open` with the
 * app-level token (Bearer) answers a `ws://` URL; the socket says `hello`, then sends envelopes and
 * expects `{"envelope_id"}` back. Tests push envelopes and read the acks.
 */
export interface FakeSocketSlack {
  apiUrl: string;
  /** Resolves when a client has connected and been sent `hello`. */
  connected: Promise<void>;
  opens: number;
  acks: { envelope_id: string; at: number }[];
  send(envelope: Record<string, unknown>): void;
  /** Sends `disconnect` (`refresh_requested`) as Slack does before recycling a connection. */
  requestRefresh(): void;
  close(): Promise<void>;
}

export async function startFakeSocketSlack(appToken: string): Promise<FakeSocketSlack> {
  const sockets = new Set<WebSocket>();
  let resolveConnected!: () => void;
  let connected = new Promise<void>((resolve) => (resolveConnected = resolve));
  const acks: FakeSocketSlack["acks"] = [];
  const server: Server = createServer((request, response) => {
    void handle(request).then(({ status, body }) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      ws.on("message", (data: Buffer) => {
        const parsed = JSON.parse(data.toString("utf8")) as { envelope_id?: string };
        if (parsed.envelope_id) acks.push({ envelope_id: parsed.envelope_id, at: Date.now() });
      });
      ws.send(JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "A0LOOKOUT" } }));
      resolveConnected();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const fake: FakeSocketSlack = {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    get connected() {
      return connected;
    },
    opens: 0,
    acks,
    send(envelope) {
      for (const ws of sockets) ws.send(JSON.stringify(envelope));
    },
    requestRefresh() {
      connected = new Promise<void>((resolve) => (resolveConnected = resolve));
      // Slack sends `disconnect`, then closes the old connection itself.
      for (const ws of sockets) {
        ws.send(JSON.stringify({ type: "disconnect", reason: "refresh_requested" }));
        ws.close(1000, "refresh_requested");
      }
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  async function handle(request: IncomingMessage): Promise<{ status: number; body: unknown }> {
    for await (const chunk of request) void chunk;
    if (request.url !== "/api/apps.connections.open" || request.method !== "POST")
      return { status: 404, body: { ok: false, error: "unknown_method" } };
    if (request.headers.authorization !== `Bearer ${appToken}`) return { status: 200, body: { ok: false, error: "invalid_auth" } };
    fake.opens += 1;
    return { status: 200, body: { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${fake.opens}` } };
  }

  return fake;
}
