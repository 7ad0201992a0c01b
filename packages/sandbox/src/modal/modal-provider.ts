import { allowedDomains } from "../vendor-egress";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidError,
  ModalClient,
  NotFoundError,
  ResourceExhaustedError,
  SandboxTimeoutError,
  TimeoutError,
  type App,
  type Image,
} from "modal";
import { z } from "zod";
import { IMAGE_LAYOUT, withLayout, withSeparateAgentUser } from "../bridge-env";
import { classifyErrno, classifyGrpcStatus, findErrno, providerError, SandboxProviderError, type Classification } from "../errors";
import { describeError, silentLogger, type Logger } from "../logger";
import type { SandboxCreateConfig, SandboxHandle, SandboxProvider, SandboxProviderCapabilities, SandboxState } from "../provider";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { modalImage } from "./modal-image";

const PROVIDER = "modal";
/** Exit codes Modal reports for a sandbox it stopped (terminated, timed out): not failures. */
const STOPPED_EXIT_CODES = new Set([0, 124, 137]);

export interface ModalProviderOptions {
  readonly tokenId: string;
  readonly tokenSecret: string;
  /** The Modal app sandboxes run under; created on first use. */
  readonly appName: string;
  readonly environment?: string;
  /** The repository root, for the image's files (the bridge bundle). */
  readonly repoRoot: string;
  readonly logger?: Logger;
}

/**
 * Modal sandboxes through the official JS SDK. The sandbox's main process is the bridge itself
 * (`node /opt/lookout/bridge.mjs`), so the sandbox lives exactly as long as the bridge does.
 * Snapshots are filesystem snapshots (Modal images); a restore starts a sandbox from that image.
 */
export class ModalProvider implements SandboxProvider {
  readonly name = PROVIDER;
  readonly capabilities: SandboxProviderCapabilities = {
    snapshots: true,
    restore: true,
    timeouts: true,
    maxTimeoutMs: 24 * 3600_000,
    snapshotStopsSandbox: false,
    network: "vendor",
  };

  private readonly client: ModalClient;
  private readonly logger: Logger;
  private app: Promise<App> | undefined;
  private baseImage: Promise<Image> | undefined;

  constructor(private readonly options: ModalProviderOptions) {
    this.logger = (options.logger ?? silentLogger).child({ provider: PROVIDER });
    this.client = new ModalClient({
      tokenId: options.tokenId,
      tokenSecret: options.tokenSecret,
      ...(options.environment ? { environment: options.environment } : {}),
      // The API endpoint is the SDK's own profile setting (`MODAL_SERVER_URL` or `server_url` in
      // ~/.modal.toml): the client's `endpoint` parameter is declared but not read in 0.11.
      logLevel: "warn",
    });
  }

  async create(config: SandboxCreateConfig): Promise<SandboxHandle> {
    // Modal filters egress by domain: a restricted policy becomes its outbound domain allowlist.
    const domains = allowedDomains(config);
    const app = await this.call("find the app", () => this.appHandle());
    const source = config.source;
    const image =
      source.kind === "snapshot"
        ? await this.call("find the snapshot", () => this.client.images.fromId(source.snapshotId))
        : await this.imageHandle();
    const sandbox = await this.call("create the sandbox", () =>
      this.client.sandboxes.create(app, image, {
        command: [...SANDBOX_IMAGE.command],
        env: withLayout(withSeparateAgentUser(config.env), IMAGE_LAYOUT),
        workdir: SANDBOX_IMAGE.workspaceDir,
        // Modal takes whole seconds.
        timeoutMs: Math.ceil(Math.min(config.timeoutMs, this.capabilities.maxTimeoutMs) / 1000) * 1000,
        name: `lookout-${config.sandboxId}`,
        ...(config.resources?.cpu ? { cpu: config.resources.cpu } : {}),
        ...(config.resources?.memoryMiB ? { memoryMiB: config.resources.memoryMiB } : {}),
        ...(domains ? { outboundDomainAllowlist: domains } : {}),
      }),
    );
    this.logger.info("sandbox started", { sandboxId: config.sandboxId, providerId: sandbox.sandboxId });
    return { providerId: sandbox.sandboxId, status: "running" };
  }

  async restore(snapshotId: string, config: Omit<SandboxCreateConfig, "source">): Promise<SandboxHandle> {
    return this.create({ ...config, source: { kind: "snapshot", snapshotId } });
  }

  async status(providerId: string): Promise<SandboxState> {
    const sandbox = await this.call("find the sandbox", () => this.client.sandboxes.fromId(providerId));
    const exitCode = await this.call("read the sandbox", () => sandbox.poll());
    if (exitCode === null) return "running";
    return STOPPED_EXIT_CODES.has(exitCode) ? "stopped" : "failed";
  }

  async snapshot(providerId: string): Promise<{ snapshotId: string }> {
    const sandbox = await this.call("find the sandbox", () => this.client.sandboxes.fromId(providerId));
    const image = await this.call("snapshot the sandbox", () => sandbox.snapshotFilesystem());
    return { snapshotId: image.imageId };
  }

  /** A snapshot is a Modal image; `images.delete` removes that image (not the layers under it, which Modal shares). */
  async deleteSnapshot(snapshotId: string): Promise<void> {
    try {
      await this.call("delete the snapshot", () => this.client.images.delete(snapshotId));
    } catch (error) {
      if (error instanceof SandboxProviderError && error.reason === "not_found") return;
      throw error;
    }
    this.logger.info("snapshot deleted", { snapshotId });
  }

  async terminate(providerId: string): Promise<void> {
    try {
      const sandbox = await this.call("find the sandbox", () => this.client.sandboxes.fromId(providerId));
      await this.call("terminate the sandbox", () => sandbox.terminate());
    } catch (error) {
      if (error instanceof SandboxProviderError && error.reason === "not_found") return;
      throw error;
    }
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }

  private appHandle(): Promise<App> {
    this.app ??= this.client.apps.fromName(this.options.appName, { createIfMissing: true });
    // A failed lookup is retried on the next create rather than cached.
    this.app.catch(() => (this.app = undefined));
    return this.app;
  }

  /** The base image, defined once per provider; Modal builds it on first use and caches it. */
  private imageHandle(): Promise<Image> {
    this.baseImage ??= (async () => {
      const files = new Map<string, Uint8Array>();
      for (const file of SANDBOX_IMAGE.files) {
        const content = await readFile(join(this.options.repoRoot, file.source)).catch(() => undefined);
        if (!content) {
          throw providerError(PROVIDER, `${file.source} does not exist; build it with \`pnpm --filter @lookout/bridge build\`.`, {
            kind: "permanent",
            reason: "unavailable",
          });
        }
        files.set(file.path, content);
      }
      return modalImage(this.client, SANDBOX_IMAGE, files);
    })();
    this.baseImage.catch(() => (this.baseImage = undefined));
    return this.baseImage;
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyModalError(error, what);
    }
  }
}

/** nice-grpc's `ClientError`, recognised by its fields (the SDK does not re-export the class). */
const GrpcClientError = z.object({ code: z.number().int().min(0).max(16), details: z.string(), path: z.string() });

/** Classifies from the SDK's typed errors, then the gRPC status code, then errno. */
export function classifyModalError(error: unknown, what: string): SandboxProviderError {
  if (error instanceof SandboxProviderError) return error;
  let classification: Classification = { kind: "permanent", reason: "internal" };
  let code: string | undefined;
  const grpc = GrpcClientError.safeParse(error);
  if (error instanceof NotFoundError) classification = { kind: "permanent", reason: "not_found" };
  else if (error instanceof AlreadyExistsError || error instanceof ConflictError)
    classification = { kind: "permanent", reason: "conflict" };
  else if (error instanceof InvalidError) classification = { kind: "permanent", reason: "invalid_request" };
  else if (error instanceof ResourceExhaustedError) classification = { kind: "transient", reason: "capacity" };
  else if (error instanceof TimeoutError || error instanceof SandboxTimeoutError) classification = { kind: "transient", reason: "timeout" };
  else if (grpc.success) {
    classification = classifyGrpcStatus(grpc.data.code);
    code = `GRPC_${grpc.data.code}`;
  } else {
    const errno = findErrno(error);
    if (errno) {
      classification = classifyErrno(errno);
      code = errno;
    }
  }
  return providerError(PROVIDER, `Modal could not ${what}: ${describeError(error)}`, classification, {
    ...(code === undefined ? {} : { code }),
    cause: error,
  });
}
