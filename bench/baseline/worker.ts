import { DurableObject } from "cloudflare:workers";

/**
 * The baseline the benchmarks compare Lookout against: a Durable Object that does the least a
 * session hub must do. It accepts hibernating WebSockets, stores each published event in SQLite
 * under the next sequence number, rebroadcasts it to every subscriber socket and acknowledges it;
 * a subscriber that sends `subscribe {afterSeq}` gets every stored row after that sequence as its
 * own frame, then `subscribed`. Frames use Lookout's shapes so one client measures both.
 *
 * Routes: `GET /rooms/:name/publish` and `GET /rooms/:name/subscribe` (WebSocket upgrades), and
 * `GET /health`.
 */
interface Env {
  ROOM: DurableObjectNamespace<Room>;
}

type Role = "publisher" | "subscriber";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    const route = /^\/rooms\/([A-Za-z0-9_-]{1,64})\/(publish|subscribe)$/.exec(url.pathname);
    if (!route || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("not found", { status: 404 });
    return env.ROOM.get(env.ROOM.idFromName(route[1]!)).fetch(request);
  },
} satisfies ExportedHandler<Env>;

interface EventRow extends Record<string, SqlStorageValue> {
  seq: number;
  at: number;
  payload: string;
}

export class Room extends DurableObject<Env> {
  private latestSeq: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, payload TEXT NOT NULL)`);
    // Runs again after every wake from hibernation, so the counter always matches the table.
    this.latestSeq = Number(ctx.storage.sql.exec(`SELECT COALESCE(MAX(seq), 0) AS seq FROM events`).one().seq);
  }

  override fetch(request: Request): Response {
    const role: Role = new URL(request.url).pathname.endsWith("/publish") ? "publisher" : "subscriber";
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [role]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override webSocketMessage(socket: WebSocket, raw: string | ArrayBuffer): void {
    let message: unknown;
    try {
      message = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
    } catch {
      socket.send(JSON.stringify({ type: "error", message: "frames must be JSON" }));
      return;
    }
    if (!isRecord(message)) return;
    const role = this.ctx.getTags(socket)[0];
    if (role === "publisher" && message.type === "publish" && typeof message.seq === "number" && isRecord(message.event)) {
      this.publish(socket, message.seq, message.event);
    } else if (role === "subscriber" && message.type === "subscribe") {
      this.replay(socket, typeof message.afterSeq === "number" ? message.afterSeq : 0);
    }
  }

  override webSocketClose(): void {
    // The runtime answers close frames itself; nothing is kept per socket.
  }

  private publish(publisher: WebSocket, publisherSeq: number, event: Record<string, unknown>): void {
    const seq = ++this.latestSeq;
    const at = Date.now();
    this.ctx.storage.sql.exec(`INSERT INTO events (seq, at, payload) VALUES (?, ?, ?)`, seq, at, JSON.stringify(event));
    const frame = JSON.stringify({ type: "events", events: [{ seq, at, key: null, payload: event }], replay: false });
    for (const subscriber of this.ctx.getWebSockets("subscriber")) {
      try {
        subscriber.send(frame);
      } catch {
        // A socket closing while we iterate is dropped by the runtime.
      }
    }
    publisher.send(JSON.stringify({ type: "ack", seq: publisherSeq }));
  }

  /** One frame per stored row: the unbatched replay Lookout's batched replay is compared with. */
  private replay(subscriber: WebSocket, afterSeq: number): void {
    const rows = this.ctx.storage.sql.exec<EventRow>(`SELECT seq, at, payload FROM events WHERE seq > ? ORDER BY seq`, afterSeq);
    for (const row of rows) {
      const event = { seq: row.seq, at: row.at, key: null, payload: JSON.parse(row.payload) as unknown };
      subscriber.send(JSON.stringify({ type: "events", events: [event], replay: true }));
    }
    subscriber.send(JSON.stringify({ type: "subscribed", latestSeq: this.latestSeq }));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
