import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type FakeRoute = (request: FakeRequest, params: string[]) => FakeReply | Promise<FakeReply>;

interface Injected {
  method: string;
  pattern: RegExp;
  reply: FakeReply;
}

/**
 * A tiny HTTP server for vendor fakes: routes by method and path pattern, records every request,
 * and can be told to fail the next matching request with a given status (to test classification).
 */
export class HttpFake {
  readonly requests: FakeRequest[] = [];
  private readonly routes: { method: string; pattern: RegExp; handler: FakeRoute }[] = [];
  private readonly injected: Injected[] = [];
  private server: Server | undefined;
  url = "";

  route(method: string, pattern: RegExp, handler: FakeRoute): this {
    this.routes.push({ method, pattern, handler });
    return this;
  }

  /**
   * The next `times` requests matching `method` and `pattern` get `reply` instead of their route
   * (more than one outlasts an SDK's own retries).
   */
  failNext(method: string, pattern: RegExp, reply: FakeReply, times = 1): void {
    for (let i = 0; i < times; i++) this.injected.push({ method, pattern, reply });
  }

  /** Forgets failures that were injected but not consumed. */
  clearFailures(): void {
    this.injected.length = 0;
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { "content-type": "application/json" });
        response.end(JSON.stringify({ message: String(error) }));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    const port = typeof address === "object" && address !== null ? (address satisfies AddressInfo).port : 0;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", this.url);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    const text = Buffer.concat(chunks).toString();
    let body: unknown = text;
    if (text && (request.headers["content-type"] ?? "").includes("json")) body = JSON.parse(text);
    const method = request.method ?? "GET";
    const fakeRequest: FakeRequest = { method, path: url.pathname, query: url.searchParams, headers: request.headers, body };
    this.requests.push(fakeRequest);

    const injectedIndex = this.injected.findIndex((entry) => entry.method === method && entry.pattern.test(url.pathname));
    let reply: FakeReply | undefined;
    if (injectedIndex >= 0) {
      reply = this.injected[injectedIndex]?.reply;
      this.injected.splice(injectedIndex, 1);
    } else {
      for (const route of this.routes) {
        const match = route.method === method ? route.pattern.exec(url.pathname) : null;
        if (match) {
          reply = await route.handler(
            fakeRequest,
            match.slice(1).map((part) => decodeURIComponent(part)),
          );
          break;
        }
      }
    }
    reply ??= { status: 404, body: { message: `fake has no route for ${method} ${url.pathname}` } };
    const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
    response.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
    response.end(payload);
  }
}
