import { randomUUID } from "node:crypto";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { daytonaSnapshotName } from "../../src/index";
import { HttpFake, type FakeReply } from "./http-fake";

/**
 * The slice of Daytona's REST API (`/sandbox…`) and sandbox toolbox API (`/toolbox/<id>/process…`)
 * that the SDK calls for create, get, snapshot, delete and background session commands. Sandboxes
 * come up in `creating` and turn `started` on the next read, so the SDK's wait loop is exercised.
 */
export interface FakeDaytonaSandbox {
  id: string;
  state: string;
  snapshot: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  commands: string[];
  reads: number;
}

export class DaytonaFake {
  readonly http = new HttpFake();
  readonly sandboxes = new Map<string, FakeDaytonaSandbox>();
  /** Snapshot name → the `lookout.sandbox-id` label of the sandbox it was taken from. */
  readonly snapshots = new Map<string, string>();
  /** Snapshot name → its id (`GET /snapshots/{idOrName}` answers it; `DELETE /snapshots/{id}` takes it). */
  readonly snapshotIds = new Map<string, string>();
  /** The base snapshot an image-rebuild job would have built for the current image definition. */
  readonly knownBaseSnapshots = new Set<string>([daytonaSnapshotName(SANDBOX_IMAGE)]);

  async start(): Promise<this> {
    const http = this.http;
    http.route("POST", /^\/sandbox$/, (request) => this.create(request.body));
    http.route("GET", /^\/sandbox\/([^/]+)$/, (_request, [id]) => this.read(id ?? ""));
    http.route("DELETE", /^\/sandbox\/([^/]+)$/, (_request, [id]) => this.remove(id ?? ""));
    http.route("POST", /^\/sandbox\/([^/]+)\/snapshot$/, (request, [id]) => this.snapshot(id ?? "", request.body));
    http.route("GET", /^\/snapshots\/([^/]+)$/, (_request, [idOrName]) => this.readSnapshot(idOrName ?? ""));
    http.route("DELETE", /^\/snapshots\/([^/]+)$/, (_request, [id]) => this.removeSnapshot(id ?? ""));
    http.route("GET", /^\/sandbox\/([^/]+)\/toolbox-proxy-url$/, () => ({ status: 200, body: { url: `${http.url}/toolbox` } }));
    http.route("POST", /^\/toolbox\/([^/]+)\/process\/session$/, (_request, [id]) =>
      this.sandboxes.has(id ?? "") ? { status: 201 } : { status: 404, body: { message: "not found" } },
    );
    http.route("POST", /^\/toolbox\/([^/]+)\/process\/session\/([^/]+)\/exec$/, (request, [id]) => {
      const sandbox = this.sandboxes.get(id ?? "");
      if (!sandbox) return { status: 404, body: { message: "not found" } };
      const body = objectOf(request.body);
      sandbox.commands.push(typeof body.command === "string" ? body.command : "");
      return { status: 200, body: { cmdId: randomUUID(), ...(body.runAsync ? {} : { exitCode: 0, output: "" }) } };
    });
    await http.start();
    return this;
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  private dto(sandbox: FakeDaytonaSandbox): Record<string, unknown> {
    return {
      id: sandbox.id,
      name: sandbox.id,
      organizationId: "org-1",
      snapshot: sandbox.snapshot,
      user: "sandbox",
      env: sandbox.env,
      labels: sandbox.labels,
      public: false,
      target: "us",
      cpu: 2,
      gpu: 0,
      memory: 4,
      disk: 10,
      state: sandbox.state,
      toolboxProxyUrl: `${this.http.url}/toolbox`,
    };
  }

  private create(rawBody: unknown): FakeReply {
    const body = objectOf(rawBody);
    const snapshot = typeof body.snapshot === "string" ? body.snapshot : "";
    if (!this.knownBaseSnapshots.has(snapshot) && !this.snapshots.has(snapshot)) {
      return { status: 404, body: { statusCode: 404, message: `Snapshot ${snapshot} not found`, code: "NOT_FOUND" } };
    }
    const sandbox: FakeDaytonaSandbox = {
      id: randomUUID(),
      state: "creating",
      snapshot,
      env: recordOf(body.env),
      labels: recordOf(body.labels),
      commands: [],
      reads: 0,
    };
    this.sandboxes.set(sandbox.id, sandbox);
    return { status: 200, body: this.dto(sandbox) };
  }

  private read(id: string): FakeReply {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return { status: 404, body: { statusCode: 404, message: `Sandbox ${id} not found` } };
    sandbox.reads += 1;
    if (sandbox.state === "creating" || sandbox.state === "snapshotting") sandbox.state = "started";
    return { status: 200, body: this.dto(sandbox) };
  }

  private remove(id: string): FakeReply {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return { status: 404, body: { statusCode: 404, message: `Sandbox ${id} not found` } };
    sandbox.state = "destroyed";
    return { status: 200, body: this.dto(sandbox) };
  }

  private snapshot(id: string, rawBody: unknown): FakeReply {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return { status: 404, body: { statusCode: 404, message: `Sandbox ${id} not found` } };
    const name = objectOf(rawBody).name;
    if (typeof name !== "string") return { status: 400, body: { statusCode: 400, message: "name is required" } };
    this.snapshots.set(name, sandbox.labels["lookout.sandbox-id"] ?? "");
    this.snapshotIds.set(name, randomUUID());
    sandbox.state = "snapshotting";
    return { status: 200, body: this.dto(sandbox) };
  }

  private snapshotName(idOrName: string): string | undefined {
    if (this.snapshots.has(idOrName)) return idOrName;
    return [...this.snapshotIds].find(([, id]) => id === idOrName)?.[0];
  }

  private readSnapshot(idOrName: string): FakeReply {
    const name = this.snapshotName(idOrName);
    if (name === undefined) return { status: 404, body: { statusCode: 404, message: `Snapshot ${idOrName} not found`, code: "NOT_FOUND" } };
    const id = this.snapshotIds.get(name) ?? "";
    return { status: 200, body: { id, name, state: "active", general: false, createdAt: new Date().toISOString() } };
  }

  private removeSnapshot(id: string): FakeReply {
    const name = [...this.snapshotIds].find(([, candidate]) => candidate === id)?.[0];
    if (name === undefined) return { status: 404, body: { statusCode: 404, message: `Snapshot ${id} not found`, code: "NOT_FOUND" } };
    this.snapshots.delete(name);
    this.snapshotIds.delete(name);
    return { status: 200 };
  }
}

function objectOf(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? Object.fromEntries(Object.entries(value)) : {};
}

function recordOf(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(objectOf(value)).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}
