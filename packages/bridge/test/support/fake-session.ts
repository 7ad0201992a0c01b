import { EventEmitter } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BridgeMessage, type BridgeEventPayload, type SessionCommand } from "@lookout/protocol";
import { WebSocketServer, type RawData, type WebSocket } from "ws";

function frameText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

export interface ReceivedFrame {
  connection: number;
  bseq: number;
  event: BridgeEventPayload;
  /** Whether the session stored it (false for duplicates and for frames lost on purpose). */
  stored: boolean;
}

/**
 * A stand-in for the session's Durable Object on the bridge route: checks the bridge's
 * credentials, welcomes it with the highest stored `bseq`, stores each event once, acknowledges
 * it, and records everything so tests can assert on what arrived and in which order. Its HTTP
 * side records the bridge's REST calls (credential helper, tools) and answers them from `answers`.
 */
export class FakeSession {
  readonly frames: ReceivedFrame[] = [];
  readonly stored: Array<{ bseq: number; event: BridgeEventPayload }> = [];
  readonly heartbeats: number[] = [];
  readonly welcomes: Array<{ connection: number; lastBseq: number }> = [];
  readonly rejectedUpgrades: string[] = [];
  /** HTTP requests the bridge made (its credential helper and tools), in order. */
  readonly requests: Array<{
    method: string;
    path: string;
    authorization: string | undefined;
    sandboxId: string | undefined;
    body: string;
  }> = [];
  /** Canned HTTP answers by `METHOD /path`; anything else is a 404. */
  readonly answers = new Map<string, { status: number; body: unknown }>();
  /** Model calls through `/model-proxy/<provider>/…` and whether each carried the sandbox token. */
  readonly modelCalls: Array<{ provider: string; path: string; withToken: boolean }> = [];
  /** Upstream base URLs by provider id for the model proxy (see `proxyModel`). */
  private readonly modelTargets = new Map<string, string>();
  connections = 0;
  /** While true, frames are received but neither stored nor acknowledged (as if lost in flight). */
  blackhole = false;
  private socket: WebSocket | undefined;
  private readonly changes = new EventEmitter();
  private readonly wss = new WebSocketServer({ noServer: true });

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly expected: { sessionId: string; sandboxId: string; token: string },
  ) {}

  static async start(expected: { sessionId: string; sandboxId: string; token: string }): Promise<FakeSession> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const started = new FakeSession(server, `http://127.0.0.1:${port}`, expected);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => started.answer(req, res));
    server.on("upgrade", (req, socket, head) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const fail = (status: number, why: string): void => {
        started.rejectedUpgrades.push(why);
        socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\n\r\n`);
      };
      if (path !== `/api/sessions/${expected.sessionId}/bridge`) return fail(404, `path ${path}`);
      if (req.headers.authorization !== `Bearer ${expected.token}`) return fail(401, "token");
      if (req.headers["x-lookout-sandbox-id"] !== expected.sandboxId) return fail(403, "sandbox id");
      started.wss.handleUpgrade(req, socket, head, (ws) => started.accept(ws));
    });
    return started;
  }

  get lastBseq(): number {
    return this.stored.at(-1)?.bseq ?? 0;
  }

  /** Stored events of one type, in order. */
  events<T extends BridgeEventPayload["type"]>(type: T): Array<Extract<BridgeEventPayload, { type: T }>> {
    return this.stored.map((s) => s.event).filter((e): e is Extract<BridgeEventPayload, { type: T }> => e.type === type);
  }

  /** Stored events of one prompt, in order. */
  promptEvents(promptId: string): BridgeEventPayload[] {
    return this.stored.map((s) => s.event).filter((e) => "promptId" in e && e.promptId === promptId);
  }

  send(command: SessionCommand): void {
    if (!this.socket) throw new Error("no bridge is connected");
    this.socket.send(JSON.stringify(command));
  }

  /** Drops the connection without a close handshake, like a network failure. */
  dropConnection(): void {
    this.socket?.terminate();
    this.socket = undefined;
  }

  closeConnection(code: number, reason: string): void {
    this.socket?.close(code, reason);
  }

  /** Resolves when `predicate` holds, re-checking after every frame; rejects after `timeoutMs`. */
  waitFor<T>(description: string, predicate: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const value = predicate();
        if (value === undefined || value === false) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.changes.off("change", check);
      };
      if (!check()) this.changes.on("change", check);
    });
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Serves `/model-proxy/<provider>/…` like the gateway's model proxy: the sandbox token as the API
   * key (either header), forwarded to `target` (e.g. the scripted model's `/v1`) when it is right.
   */
  proxyModel(provider: string, target: string): string {
    this.modelTargets.set(provider, target.replace(/\/+$/, ""));
    return `${this.baseUrl}/model-proxy/${provider}`;
  }

  private proxy(req: IncomingMessage, res: ServerResponse, path: string): void {
    const [, , provider = "", ...rest] = path.split("/");
    const target = this.modelTargets.get(provider);
    const key = req.headers["x-api-key"] ?? req.headers.authorization?.replace(/^Bearer\s+/i, "");
    const withToken = key === this.expected.token;
    this.modelCalls.push({ provider, path, withToken });
    this.changes.emit("change");
    if (!target || !withToken) {
      req.resume();
      res.writeHead(target ? 401 : 404, { "content-type": "application/json" }).end('{"error":{"message":"refused"}}');
      return;
    }
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.authorization;
    delete headers["x-api-key"];
    const search = new URL(req.url ?? "/", "http://x").search;
    const outgoing = httpRequest(`${target}/${rest.join("/")}${search}`, { method: req.method, headers }, (incoming) => {
      res.writeHead(incoming.statusCode ?? 502, incoming.headers);
      incoming.pipe(res);
    });
    outgoing.on("error", () => res.destroy());
    req.pipe(outgoing);
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const requestPath = new URL(req.url ?? "/", "http://x").pathname;
    if (requestPath.startsWith("/model-proxy/")) return this.proxy(req, res, requestPath);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const method = req.method ?? "GET";
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const sandboxId = req.headers["x-lookout-sandbox-id"];
      this.requests.push({
        method,
        path,
        authorization: req.headers.authorization,
        sandboxId: typeof sandboxId === "string" ? sandboxId : undefined,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const answer = this.answers.get(`${method} ${path}`);
      if (answer) res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
      else res.writeHead(404).end();
      this.changes.emit("change");
    });
  }

  private accept(ws: WebSocket): void {
    const connection = ++this.connections;
    this.socket?.terminate();
    this.socket = ws;
    this.welcomes.push({ connection, lastBseq: this.lastBseq });
    ws.send(JSON.stringify({ type: "bridge.welcome", lastBseq: this.lastBseq } satisfies SessionCommand));
    ws.on("message", (data) => {
      const message = BridgeMessage.parse(JSON.parse(frameText(data)));
      if (message.type === "bridge.heartbeat") {
        this.heartbeats.push(message.at);
      } else {
        const stored = !this.blackhole && message.bseq > this.lastBseq;
        this.frames.push({ connection, bseq: message.bseq, event: message.event, stored });
        if (stored) {
          this.stored.push({ bseq: message.bseq, event: message.event });
          ws.send(JSON.stringify({ type: "bridge.ack", bseq: message.bseq } satisfies SessionCommand));
        }
      }
      this.changes.emit("change");
    });
    ws.on("close", () => this.changes.emit("change"));
    this.changes.emit("change");
  }
}
