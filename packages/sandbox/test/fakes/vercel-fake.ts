import { randomUUID } from "node:crypto";
import { HttpFake, type FakeReply, type FakeRequest } from "./http-fake";

export const VERCEL_API = "https://vercel.com/api";

/**
 * The slice of the Vercel Sandbox REST API (`/v3/sandboxes`, `/v2/sandboxes/…`) the SDK calls for
 * create, get, commands, snapshot and delete. The SDK reaches it through its `fetch` option:
 * `fetch` below rewrites the SDK's fixed `https://vercel.com/api` base to this server.
 */
export interface FakeVercelSandbox {
  name: string;
  sessionId: string;
  status: string;
  env: Record<string, string>;
  tags: Record<string, string>;
  /** The firewall policy as the SDK sent it (its API form). */
  networkPolicy: unknown;
  sourceSnapshotId: string | undefined;
  commands: { command: string; args: string[]; cwd: string | undefined }[];
}

export class VercelFake {
  readonly http = new HttpFake();
  readonly sandboxes = new Map<string, FakeVercelSandbox>();
  /** Snapshot id → the `lookout-sandbox-id` tag of the sandbox it came from. */
  readonly snapshots = new Map<string, string>();
  /** Snapshots deleted (`DELETE /v2/sandboxes/snapshots/{id}`): still read, with status `deleted`. */
  readonly deletedSnapshots = new Set<string>();
  readonly baseSnapshots = new Set(["snap_base"]);

  constructor(private readonly token: string) {}

  /** The `fetch` handed to the SDK. */
  readonly fetch: typeof globalThis.fetch = (input, init) => {
    const original = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!original.startsWith(VERCEL_API)) throw new Error(`unexpected request to ${original}`);
    return globalThis.fetch(`${this.http.url}${original.slice(VERCEL_API.length)}`, init);
  };

  async start(): Promise<this> {
    const http = this.http;
    const authed =
      (handler: (request: FakeRequest, params: string[]) => FakeReply) =>
      (request: FakeRequest, params: string[]): FakeReply =>
        request.headers.authorization === `Bearer ${this.token}` && request.query.get("teamId") === "team_1"
          ? handler(request, params)
          : { status: 403, body: { error: { code: "forbidden", message: "Not authorized" } } };
    http.route(
      "POST",
      /^\/v[23]\/sandboxes$/,
      authed((request) => this.create(request.body)),
    );
    http.route(
      "GET",
      /^\/v2\/sandboxes\/([^/]+)$/,
      authed((_request, [name]) => this.read(name ?? "")),
    );
    http.route(
      "DELETE",
      /^\/v2\/sandboxes\/([^/]+)$/,
      authed((_request, [name]) => this.remove(name ?? "")),
    );
    http.route(
      "GET",
      /^\/v2\/sandboxes\/snapshots\/([^/]+)$/,
      authed((_request, [id]) => this.readSnapshot(id ?? "")),
    );
    http.route(
      "DELETE",
      /^\/v2\/sandboxes\/snapshots\/([^/]+)$/,
      authed((_request, [id]) => this.removeSnapshot(id ?? "")),
    );
    http.route(
      "POST",
      /^\/v2\/sandboxes\/sessions\/([^/]+)\/cmd$/,
      authed((request, [sessionId]) => this.command(sessionId ?? "", request.body)),
    );
    http.route(
      "POST",
      /^\/v2\/sandboxes\/sessions\/([^/]+)\/snapshot$/,
      authed((_request, [sessionId]) => this.snapshot(sessionId ?? "")),
    );
    await http.start();
    return this;
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  private bySession(sessionId: string): FakeVercelSandbox | undefined {
    return [...this.sandboxes.values()].find((sandbox) => sandbox.sessionId === sessionId);
  }

  private session(sandbox: FakeVercelSandbox): Record<string, unknown> {
    const now = Date.now();
    return {
      id: sandbox.sessionId,
      memory: 4096,
      vcpus: 2,
      region: "iad1",
      runtime: "node22",
      timeout: 600_000,
      status: sandbox.status,
      requestedAt: now,
      createdAt: now,
      updatedAt: now,
      cwd: "/vercel/sandbox",
      ...(sandbox.sourceSnapshotId ? { sourceSnapshotId: sandbox.sourceSnapshotId } : {}),
    };
  }

  private sandboxBody(sandbox: FakeVercelSandbox): Record<string, unknown> {
    const now = Date.now();
    return {
      name: sandbox.name,
      persistent: false,
      createdAt: now,
      updatedAt: now,
      currentSessionId: sandbox.sessionId,
      status: sandbox.status,
      tags: sandbox.tags,
    };
  }

  private full(sandbox: FakeVercelSandbox, status = 200): FakeReply {
    return { status, body: { sandbox: this.sandboxBody(sandbox), session: this.session(sandbox), routes: [] } };
  }

  private create(rawBody: unknown): FakeReply {
    const body = objectOf(rawBody);
    const source = objectOf(body.source);
    const snapshotId = source.type === "snapshot" && typeof source.snapshotId === "string" ? source.snapshotId : undefined;
    if (snapshotId && !this.baseSnapshots.has(snapshotId) && !this.snapshots.has(snapshotId)) {
      return { status: 404, body: { error: { code: "not_found", message: `Snapshot ${snapshotId} not found` } } };
    }
    const name = typeof body.name === "string" ? body.name : `sbx_${randomUUID()}`;
    if (this.sandboxes.has(name)) return { status: 409, body: { error: { code: "conflict", message: "name taken" } } };
    const sandbox: FakeVercelSandbox = {
      name,
      sessionId: `sess_${randomUUID()}`,
      status: "running",
      env: recordOf(body.env),
      tags: recordOf(body.tags),
      networkPolicy: body.networkPolicy,
      sourceSnapshotId: snapshotId,
      commands: [],
    };
    this.sandboxes.set(name, sandbox);
    return this.full(sandbox, 201);
  }

  private read(name: string): FakeReply {
    const sandbox = this.sandboxes.get(name);
    return sandbox ? this.full(sandbox) : { status: 404, body: { error: { code: "not_found", message: "Sandbox not found" } } };
  }

  private remove(name: string): FakeReply {
    const sandbox = this.sandboxes.get(name);
    if (!sandbox) return { status: 404, body: { error: { code: "not_found", message: "Sandbox not found" } } };
    this.sandboxes.delete(name);
    sandbox.status = "stopped";
    return { status: 200, body: { sandbox: this.sandboxBody(sandbox) } };
  }

  private command(sessionId: string, rawBody: unknown): FakeReply {
    const sandbox = this.bySession(sessionId);
    if (!sandbox) return { status: 404, body: { error: { code: "not_found", message: "Session not found" } } };
    const body = objectOf(rawBody);
    const args = Array.isArray(body.args) ? body.args.filter((arg): arg is string => typeof arg === "string") : [];
    const command = typeof body.command === "string" ? body.command : "";
    sandbox.commands.push({ command, args, cwd: typeof body.cwd === "string" ? body.cwd : undefined });
    return {
      status: 200,
      body: {
        command: { id: `cmd_${randomUUID()}`, name: command, args, cwd: "/workspace", sessionId, exitCode: null, startedAt: Date.now() },
      },
    };
  }

  private snapshot(sessionId: string): FakeReply {
    const sandbox = this.bySession(sessionId);
    if (!sandbox) return { status: 404, body: { error: { code: "not_found", message: "Session not found" } } };
    const id = `snap_${randomUUID()}`;
    this.snapshots.set(id, sandbox.tags["lookout-sandbox-id"] ?? "");
    // Vercel stops the sandbox to take its snapshot.
    sandbox.status = "stopped";
    const now = Date.now();
    return {
      status: 201,
      body: {
        snapshot: { id, sourceSessionId: sessionId, region: "iad1", status: "created", sizeBytes: 1024, createdAt: now, updatedAt: now },
        session: this.session(sandbox),
      },
    };
  }

  private snapshotBody(id: string): Record<string, unknown> {
    const now = Date.now();
    const status = this.deletedSnapshots.has(id) ? "deleted" : "created";
    return { id, sourceSessionId: "sess_origin", region: "iad1", status, sizeBytes: 1024, createdAt: now, updatedAt: now };
  }

  private readSnapshot(id: string): FakeReply {
    if (!this.snapshots.has(id) && !this.deletedSnapshots.has(id)) {
      return { status: 404, body: { error: { code: "not_found", message: "Snapshot not found" } } };
    }
    return { status: 200, body: { snapshot: this.snapshotBody(id) } };
  }

  private removeSnapshot(id: string): FakeReply {
    if (!this.snapshots.has(id)) return { status: 404, body: { error: { code: "not_found", message: "Snapshot not found" } } };
    this.snapshots.delete(id);
    this.deletedSnapshots.add(id);
    return { status: 200, body: { snapshot: this.snapshotBody(id) } };
  }
}

function objectOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? Object.fromEntries(Object.entries(value)) : {};
}

function recordOf(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(objectOf(value)).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}
