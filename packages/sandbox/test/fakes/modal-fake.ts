import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { z } from "zod";

/**
 * A Modal control plane (and task command router) for the Modal SDK to talk to over real gRPC.
 * The schema comes from `modal-proto.json`, generated from the SDK's own encoders (see
 * `modal-proto-gen.ts` and docs/adr/0003-modal-fake.md), so requests and responses go through the
 * SDK's real channel, middleware and protobuf codecs.
 */
const Schema = z.object({
  services: z.record(
    z.string(),
    z.record(z.string(), z.object({ path: z.string(), requestType: z.string(), responseType: z.string(), responseStream: z.boolean() })),
  ),
  nested: z.record(
    z.string(),
    z.custom<protobuf.AnyNestedObject>((value) => typeof value === "object" && value !== null),
  ),
});
const schema = Schema.parse(JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "modal-proto.json"), "utf8")));
const root = protobuf.Root.fromJSON({ nested: schema.nested });

type Message = Record<string, unknown>;
type Handler = (request: Message) => Message;

export interface FakeModalSandbox {
  id: string;
  name: string;
  taskId: string;
  imageId: string;
  command: string[];
  env: Record<string, string>;
  exitCode: number | null;
}

const Definition = z.object({
  imageId: z.string(),
  entrypointArgs: z.array(z.string()).default([]),
  secretIds: z.array(z.string()).default([]),
  name: z.string().default(""),
});

/** A V1-shaped sandbox id (`sb-` and 22 alphanumerics); anything else the SDK treats as V2. */
function v1SandboxId(): string {
  return `sb-${randomUUID().replace(/-/g, "").slice(0, 22)}`;
}

const GENERIC_STATUS_SUCCESS = 1;
const GENERIC_STATUS_TERMINATED = 3;

export class ModalFake {
  readonly sandboxes = new Map<string, FakeModalSandbox>();
  /** Image id → the name of the sandbox it was snapshotted from (absent for built images). */
  readonly images = new Map<string, string | undefined>();
  readonly calls: string[] = [];
  private readonly secrets = new Map<string, Record<string, string>>();
  private readonly failures: { method: string; code: grpc.status }[] = [];
  private readonly server = new grpc.Server();
  url = "";

  /** The next `times` calls of `method` fail with gRPC status `code`. */
  failNext(method: string, code: grpc.status, times = 1): void {
    for (let i = 0; i < times; i++) this.failures.push({ method, code });
  }

  /** Forgets failures that were injected but not consumed. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  private readonly handlers: Record<string, Handler> = {
    AuthTokenGet: () => ({ token: fakeJwt() }),
    AppGetOrCreate: () => ({ appId: "ap-lookout" }),
    EnvironmentGetOrCreate: () => ({ environmentId: "en-main", metadata: { name: "main", settings: { imageBuilderVersion: "2025.06" } } }),
    ImageGetOrCreate: () => {
      const imageId = `im-${randomUUID()}`;
      this.images.set(imageId, undefined);
      return { imageId, result: { status: GENERIC_STATUS_SUCCESS } };
    },
    ImageFromId: (request) => {
      const imageId = String(request.imageId);
      if (!this.images.has(imageId)) throw status(grpc.status.NOT_FOUND, `Could not find image with ID ${imageId}`);
      return { imageId };
    },
    ImageDelete: (request) => {
      const imageId = String(request.imageId);
      if (!this.images.delete(imageId)) throw status(grpc.status.NOT_FOUND, `Could not find image with ID ${imageId}`);
      return {};
    },
    SecretGetOrCreate: (request) => {
      const secretId = `st-${randomUUID()}`;
      this.secrets.set(secretId, z.record(z.string(), z.string()).parse(request.envDict ?? {}));
      return { secretId };
    },
    SandboxCreate: (request) => {
      const definition = Definition.parse(request.definition);
      const secretIds = definition.secretIds;
      const env = Object.assign({}, ...secretIds.map((id) => this.secrets.get(id) ?? {}));
      return { sandboxId: this.createSandbox(definition, env, v1SandboxId()).id };
    },
    SandboxCreateV2: (request) => {
      const definition = Definition.parse(request.definition);
      const sources = z
        .array(z.object({ env: z.object({ contents: z.record(z.string(), z.string()).default({}) }).optional() }))
        .default([]);
      const env = Object.assign({}, ...sources.parse(request.secretSources).map((source) => source.env?.contents ?? {}));
      const sandbox = this.createSandbox(definition, env, `sb-${randomUUID()}`);
      return { sandboxId: sandbox.id, taskId: sandbox.taskId };
    },
    SandboxGetTaskId: (request) => ({ taskId: this.sandbox(request).taskId }),
    SandboxGetTaskIdV2: (request) => ({ taskId: this.sandbox(request).taskId }),
    SandboxWait: (request) => this.wait(request),
    SandboxWaitV2: (request) => this.wait(request),
    SandboxTerminate: (request) => this.terminate(request),
    SandboxTerminateV2: (request) => this.terminate(request),
    // The router URL must be https; the SDK dials it without TLS when its server is localhost.
    TaskGetCommandRouterAccess: () => ({ jwt: fakeJwt(), url: this.url.replace("http://", "https://") }),
    SandboxGetCommandRouterAccess: () => ({ jwt: fakeJwt(), url: this.url.replace("http://", "https://") }),
    TaskSnapshotFilesystem: (request) => {
      const sandbox = [...this.sandboxes.values()].find((candidate) => candidate.taskId === request.taskId);
      if (!sandbox) throw status(grpc.status.NOT_FOUND, "task not found");
      const imageId = `im-${randomUUID()}`;
      this.images.set(imageId, sandbox.name);
      return { imageId };
    },
  };

  private createSandbox(definition: z.infer<typeof Definition>, env: Record<string, string>, id: string): FakeModalSandbox {
    if (!this.images.has(definition.imageId)) throw status(grpc.status.NOT_FOUND, "image not found");
    const sandbox: FakeModalSandbox = {
      id,
      name: definition.name,
      taskId: `ta-${randomUUID()}`,
      imageId: definition.imageId,
      command: definition.entrypointArgs,
      env,
      exitCode: null,
    };
    this.sandboxes.set(sandbox.id, sandbox);
    return sandbox;
  }

  private wait(request: Message): Message {
    const sandbox = this.sandbox(request);
    return sandbox.exitCode === null ? {} : { result: { status: GENERIC_STATUS_TERMINATED, exitcode: sandbox.exitCode } };
  }

  private terminate(request: Message): Message {
    this.sandbox(request).exitCode = 137;
    return {};
  }

  private sandbox(request: Message): FakeModalSandbox {
    const sandbox = this.sandboxes.get(String(request.sandboxId));
    if (!sandbox) throw status(grpc.status.NOT_FOUND, `Sandbox ${String(request.sandboxId)} not found`);
    return sandbox;
  }

  async start(): Promise<this> {
    for (const methods of Object.values(schema.services)) {
      for (const [method, rpc] of Object.entries(methods)) {
        const requestType = root.lookupType(rpc.requestType);
        const responseType = root.lookupType(rpc.responseType);
        const serialize = (message: Message) => Buffer.from(responseType.encode(responseType.fromObject(message)).finish());
        const deserialize = (bytes: Buffer) => requestType.toObject(requestType.decode(bytes), { longs: Number, defaults: false });
        const run = (request: Message): Message => {
          this.calls.push(method);
          const failure = this.failures.findIndex((entry) => entry.method === method);
          if (failure >= 0) {
            const { code } = this.failures.splice(failure, 1)[0] ?? { code: grpc.status.INTERNAL };
            throw status(code, `injected ${grpc.status[code]}`);
          }
          const handler = this.handlers[method];
          if (!handler) throw status(grpc.status.UNIMPLEMENTED, `${method} is not faked`);
          return handler(request);
        };
        if (rpc.responseStream) {
          this.server.register<Message, Message>(
            rpc.path,
            (call: grpc.ServerWritableStream<Message, Message>) => {
              try {
                call.write(run(call.request));
                call.end();
              } catch (error) {
                const { code, details } = asServiceError(error);
                call.destroy(Object.assign(new Error(details), { code, details }));
              }
            },
            serialize,
            deserialize,
            "serverStream",
          );
        } else {
          this.server.register<Message, Message>(
            rpc.path,
            (call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) => {
              try {
                callback(null, run(call.request));
              } catch (error) {
                callback(asServiceError(error));
              }
            },
            serialize,
            deserialize,
            "unary",
          );
        }
      }
    }
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

class FakeStatus extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

function status(code: grpc.status, details: string): FakeStatus {
  return new FakeStatus(code, details);
}

function asServiceError(error: unknown): { code: grpc.status; details: string } {
  const parsed = z.object({ code: z.number(), details: z.string() }).safeParse(error);
  return parsed.success ? { code: parsed.data.code, details: parsed.data.details } : { code: grpc.status.INTERNAL, details: String(error) };
}

/** A JWT-shaped token with an expiry an hour out (the SDK reads `exp` to schedule refreshes). */
function fakeJwt(): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600 })}.signature`;
}
