import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { LOCAL_HOST } from "@lookout/dev-stack";
import { CreateSandboxRequest, GitCheckRequest, MemoryNonceStore, verifySignedRequest } from "@lookout/protocol";

/** A sandbox the control plane asked for: what a bridge needs to connect as that sandbox. */
export interface RequestedSandbox {
  sessionId: string;
  sandboxId: string;
  sandboxToken: string;
}

/**
 * A sandbox gateway that starts nothing: it verifies the control plane's signed requests like the
 * real gateway, records each requested sandbox's token (so the benchmark can play its bridge), and
 * answers repository checks, snapshot and terminate calls with success.
 */
export class FakeGateway {
  private readonly requested = new Map<string, RequestedSandbox>();
  private readonly waiters = new Map<string, (sandbox: RequestedSandbox) => void>();
  private readonly nonces = new MemoryNonceStore();

  private constructor(
    private readonly server: ReturnType<typeof createServer>,
    private readonly secret: string,
  ) {}

  static async start(secret: string): Promise<FakeGateway> {
    let gateway: FakeGateway | null = null;
    const server = createServer((request, response) => {
      gateway
        ?.handle(request, response)
        .catch((error: unknown) => reply(response, 500, { error: { code: "INTERNAL", message: String(error) } }));
    });
    gateway = new FakeGateway(server, secret);
    await new Promise<void>((resolve) => server.listen(0, LOCAL_HOST, resolve));
    return gateway;
  }

  get url(): string {
    const address = this.server.address();
    if (typeof address !== "object" || address === null) throw new Error("the fake gateway is not listening");
    return `http://${LOCAL_HOST}:${address.port}`;
  }

  /** Resolves with the sandbox the control plane requested for `sessionId`. */
  sandboxFor(sessionId: string, timeoutMs = 10_000): Promise<RequestedSandbox> {
    const known = this.requested.get(sessionId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(sessionId);
        reject(new Error(`the control plane requested no sandbox for ${sessionId} within ${timeoutMs}ms`));
      }, timeoutMs);
      this.waiters.set(sessionId, (sandbox) => {
        clearTimeout(timer);
        resolve(sandbox);
      });
    });
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = new Uint8Array(Buffer.concat(chunks));
    const pathAndQuery = request.url ?? "/";
    const method = request.method ?? "GET";
    try {
      await verifySignedRequest(
        { get: (name) => headerValue(request, name) },
        { method, pathAndQuery, body },
        { secrets: { "control-plane": this.secret }, nonces: this.nonces },
      );
    } catch (error) {
      reply(response, 401, { error: { code: "INVALID_SIGNATURE", message: String(error) } });
      return;
    }
    const path = pathAndQuery.split("?")[0] ?? "/";
    if (method === "POST" && path === "/v1/sandboxes") {
      const create = CreateSandboxRequest.parse(JSON.parse(new TextDecoder().decode(body)));
      const sandbox = { sessionId: create.sessionId, sandboxId: create.sandboxId, sandboxToken: create.sandboxToken };
      this.requested.set(create.sessionId, sandbox);
      this.waiters.get(create.sessionId)?.(sandbox);
      this.waiters.delete(create.sessionId);
      reply(response, 201, { sandboxId: create.sandboxId, provider: "bench", providerId: `bench-${create.sandboxId}`, status: "starting" });
    } else if (method === "POST" && path === "/v1/git/check") {
      // The benchmark's repositories are never cloned: every path is admitted as it is.
      const check = GitCheckRequest.parse(JSON.parse(new TextDecoder().decode(body)));
      reply(response, 200, { repositoryPath: check.repositoryPath });
    } else if (method === "POST" && /^\/v1\/sandboxes\/[^/]+\/snapshot$/.test(path)) {
      reply(response, 200, { snapshotId: `bench-snapshot-${Date.now()}` });
    } else if (method === "DELETE" && /^\/v1\/sandboxes\/[^/]+$/.test(path)) {
      response.writeHead(204).end();
    } else {
      reply(response, 404, { error: { code: "NOT_FOUND", message: `${method} ${path}` } });
    }
  }
}

function headerValue(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
