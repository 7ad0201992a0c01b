import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * A fake Slack for the real stack, on 127.0.0.1: the Web API methods Lookout calls (checked for the
 * bot token as `Authorization: Bearer`, answered in Slack's `{ ok, … }` shape, recorded), plus
 * Socket Mode — `apps.connections.open` with the app-level token answers a `ws://` URL whose socket
 * says `hello`, sends envelopes and records their acks.
 */
export const FAKE_SLACK_TOKENS = { bot: "xoxb-e2e-bot-token", app: "xapp-1-e2e-app-token" } as const;
export const FAKE_SLACK_TEAM = { id: "T0E2E", name: "Acme", botUserId: "U0LOOKOUT", botId: "B0LOOKOUT" } as const;

export interface FakeSlackCall {
  method: string;
  args: Record<string, unknown>;
  ts?: string;
  at: number;
}

export interface FakeSlack {
  url: string;
  apiUrl: string;
  calls: FakeSlackCall[];
  acks: string[];
  /** Resolves once a Socket Mode client is connected and greeted. */
  connected: Promise<void>;
  sendEnvelope(envelope: Record<string, unknown>): void;
  close(): Promise<void>;
}

const USERS: Record<string, { real_name: string; display_name: string }> = {
  U0ALICE: { real_name: "Alice Example", display_name: "alice" },
  U0BOB: { real_name: "Bob Example", display_name: "bob" },
};

export async function startFakeSlack(): Promise<FakeSlack> {
  const sockets = new Set<WebSocket>();
  let greeted!: () => void;
  const connected = new Promise<void>((resolve) => (greeted = resolve));
  const calls: FakeSlackCall[] = [];
  const acks: string[] = [];
  let clock = 1_700_000_000;
  let port = 0;

  const server: Server = createServer((request, response) => {
    void answer(request).then((body) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      ws.on("message", (data: Buffer) => {
        const ack = JSON.parse(data.toString("utf8")) as { envelope_id?: string };
        if (ack.envelope_id) acks.push(ack.envelope_id);
      });
      ws.send(JSON.stringify({ type: "hello", num_connections: 1 }));
      greeted();
    });
  });

  async function answer(request: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const method = (request.url ?? "").replace(/^\/api\//, "").split("?")[0] ?? "";
    const auth = request.headers.authorization;
    if (method === "apps.connections.open") {
      if (auth !== `Bearer ${FAKE_SLACK_TOKENS.app}`) return { ok: false, error: "invalid_auth" };
      return { ok: true, url: `ws://127.0.0.1:${port}/link` };
    }
    if (auth !== `Bearer ${FAKE_SLACK_TOKENS.bot}`) return { ok: false, error: "invalid_auth" };
    const args: Record<string, unknown> = {};
    if ((request.headers["content-type"] ?? "").startsWith("application/json")) Object.assign(args, JSON.parse(raw || "{}"));
    else
      for (const [key, value] of new URLSearchParams(raw))
        args[key] = /^[[{]/.test(value) && (key === "blocks" || key === "view") ? JSON.parse(value) : value;
    const call: FakeSlackCall = { method, args, at: Date.now() };
    calls.push(call);
    switch (method) {
      case "auth.test":
        return {
          ok: true,
          team: FAKE_SLACK_TEAM.name,
          team_id: FAKE_SLACK_TEAM.id,
          user: "lookout",
          user_id: FAKE_SLACK_TEAM.botUserId,
          bot_id: FAKE_SLACK_TEAM.botId,
        };
      case "chat.postMessage":
        call.ts = `${++clock}.000100`;
        return { ok: true, channel: args.channel, ts: call.ts };
      case "chat.update":
        return calls.some((c) => c.method === "chat.postMessage" && c.ts === args.ts)
          ? { ok: true, channel: args.channel, ts: args.ts }
          : { ok: false, error: "message_not_found" };
      case "users.info": {
        const user = USERS[String(args.user)];
        return user
          ? { ok: true, user: { id: args.user, name: user.display_name, real_name: user.real_name, profile: user } }
          : { ok: false, error: "user_not_found" };
      }
      case "reactions.add":
      case "chat.postEphemeral":
      case "views.publish":
        return { ok: true };
      default:
        return { ok: false, error: "unknown_method" };
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    acks,
    connected,
    sendEnvelope(envelope) {
      for (const ws of sockets) ws.send(JSON.stringify(envelope));
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
