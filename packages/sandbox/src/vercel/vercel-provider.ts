import { allowedDomains, PRIVATE_CIDRS } from "../vendor-egress";
import { APIError, Sandbox, Snapshot, StreamError } from "@vercel/sandbox";
import { IMAGE_LAYOUT, withLayout } from "../bridge-env";
import { classifyErrno, classifyHttpStatus, findErrno, providerError, SandboxProviderError, type Classification } from "../errors";
import { describeError, silentLogger, type Logger } from "../logger";
import type { SandboxCreateConfig, SandboxHandle, SandboxProvider, SandboxProviderCapabilities, SandboxState } from "../provider";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { VERCEL_RUNTIME, vercelBootstrapScript } from "./vercel-bootstrap";

const PROVIDER = "vercel";
/** Vercel stops sandboxes after at most this long (the Hobby limit; raise it for Pro teams). */
export const VERCEL_DEFAULT_MAX_TIMEOUT_MS = 45 * 60_000;

export interface VercelProviderOptions {
  readonly token: string;
  readonly teamId: string;
  readonly projectId: string;
  /**
   * The snapshot built by `buildVercelBaseSnapshot` from `infra/sandbox-image`. Without one each
   * sandbox starts from the bare runtime and runs the bootstrap script first (minutes, not seconds).
   */
  readonly baseSnapshotId?: string;
  readonly maxTimeoutMs?: number;
  readonly vcpus?: number;
  /** The SDK's `fetch` option; tests route it to a local fake of the Vercel API. */
  readonly fetch?: typeof globalThis.fetch;
  readonly logger?: Logger;
}

const STATUS_MAP: Record<string, SandboxState> = {
  pending: "starting",
  running: "running",
  // Vercel stops a sandbox to snapshot it; it does not come back by itself.
  snapshotting: "stopped",
  stopping: "stopped",
  stopped: "stopped",
  failed: "failed",
  aborted: "failed",
};

/**
 * Vercel Sandbox through the official SDK. Sandboxes are named (`lookout-<sandboxId>`); the name is
 * the provider id. Taking a snapshot stops the sandbox, so the control plane snapshots only on its
 * way to stopping one.
 */
export class VercelProvider implements SandboxProvider {
  readonly name = PROVIDER;
  readonly capabilities: SandboxProviderCapabilities;
  private readonly logger: Logger;

  constructor(private readonly options: VercelProviderOptions) {
    this.logger = (options.logger ?? silentLogger).child({ provider: PROVIDER });
    this.capabilities = {
      snapshots: true,
      restore: true,
      timeouts: true,
      maxTimeoutMs: options.maxTimeoutMs ?? VERCEL_DEFAULT_MAX_TIMEOUT_MS,
      snapshotStopsSandbox: true,
      network: "vendor",
    };
  }

  private get credentials() {
    return {
      token: this.options.token,
      teamId: this.options.teamId,
      projectId: this.options.projectId,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    };
  }

  async create(config: SandboxCreateConfig): Promise<SandboxHandle> {
    const snapshotId = config.source.kind === "snapshot" ? config.source.snapshotId : this.options.baseSnapshotId;
    // Vercel's firewall takes both: the policy's domains, and a deny list for private ranges.
    const domains = allowedDomains(config);
    const common = {
      networkPolicy: { allow: domains ?? ["*"], subnets: { deny: [...PRIVATE_CIDRS] } },
      ...this.credentials,
      name: `lookout-${config.sandboxId}`,
      env: withLayout(config.env, IMAGE_LAYOUT),
      timeout: Math.min(config.timeoutMs, this.capabilities.maxTimeoutMs),
      resources: { vcpus: this.options.vcpus ?? 2 },
      tags: { "lookout-sandbox-id": config.sandboxId },
    };
    const sandbox = await this.call("create the sandbox", () =>
      snapshotId
        ? Sandbox.create({ ...common, source: { type: "snapshot", snapshotId } })
        : Sandbox.create({ ...common, runtime: VERCEL_RUNTIME }),
    );
    try {
      if (!snapshotId) await this.bootstrap(sandbox);
      const [program, ...args] = SANDBOX_IMAGE.command;
      await this.call("start the bridge", () =>
        sandbox.runCommand({ cmd: program, args, cwd: SANDBOX_IMAGE.workspaceDir, detached: true }),
      );
    } catch (error) {
      // A sandbox without its bridge is useless; do not leave it running (and billing).
      await sandbox.delete().catch((cleanup: unknown) => this.logger.warn("cleanup failed", { error: describeError(cleanup) }));
      throw error;
    }
    this.logger.info("sandbox started", { sandboxId: config.sandboxId, providerId: sandbox.name, snapshotId });
    return { providerId: sandbox.name, status: mapStatus(sandbox.status) };
  }

  async restore(snapshotId: string, config: Omit<SandboxCreateConfig, "source">): Promise<SandboxHandle> {
    return this.create({ ...config, source: { kind: "snapshot", snapshotId } });
  }

  async status(providerId: string): Promise<SandboxState> {
    const sandbox = await this.get(providerId);
    return mapStatus(sandbox.status);
  }

  async snapshot(providerId: string): Promise<{ snapshotId: string }> {
    const sandbox = await this.get(providerId);
    const snapshot = await this.call("snapshot the sandbox", () => sandbox.snapshot());
    return { snapshotId: snapshot.snapshotId };
  }

  /**
   * Deletes a snapshot (`Snapshot.get`, then its `delete`: `DELETE /v2/sandboxes/snapshots/{id}`).
   * One Vercel already reports deleted is left as it is; the base snapshot is never deleted here.
   */
  async deleteSnapshot(snapshotId: string): Promise<void> {
    if (snapshotId === this.options.baseSnapshotId) {
      throw providerError(PROVIDER, "The base snapshot every sandbox starts from is not deleted.", {
        kind: "permanent",
        reason: "invalid_request",
      });
    }
    try {
      const snapshot = await this.call("read the snapshot", () => Snapshot.get({ ...this.credentials, snapshotId }));
      if (snapshot.status !== "deleted") await this.call("delete the snapshot", () => snapshot.delete());
    } catch (error) {
      if (error instanceof SandboxProviderError && error.reason === "not_found") return;
      throw error;
    }
    this.logger.info("snapshot deleted", { snapshotId });
  }

  async terminate(providerId: string): Promise<void> {
    try {
      const sandbox = await this.get(providerId);
      await this.call("delete the sandbox", () => sandbox.delete());
    } catch (error) {
      if (error instanceof SandboxProviderError && error.reason === "not_found") return;
      throw error;
    }
  }

  async close(): Promise<void> {}

  private get(name: string): Promise<Sandbox> {
    // `resume: false`: reading a stopped sandbox's state must not start it again.
    return this.call("read the sandbox", () => Sandbox.get({ ...this.credentials, name, resume: false }));
  }

  /** Installs the image's contents into a bare-runtime sandbox (when no base snapshot exists). */
  private async bootstrap(sandbox: Sandbox): Promise<void> {
    const result = await this.call("bootstrap the sandbox", () =>
      sandbox.runCommand({ cmd: "bash", args: ["-c", vercelBootstrapScript(SANDBOX_IMAGE)], sudo: true }),
    );
    if (result.exitCode !== 0) {
      throw providerError(PROVIDER, `The bootstrap script failed with exit code ${result.exitCode}.`, {
        kind: "permanent",
        reason: "internal",
      });
    }
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyVercelError(error, what);
    }
  }
}

function mapStatus(status: string | undefined): SandboxState {
  return (status && STATUS_MAP[status]) || "unknown";
}

/** Classifies from the HTTP status of the API response, a stream error's presence, or errno. */
export function classifyVercelError(error: unknown, what: string): SandboxProviderError {
  if (error instanceof SandboxProviderError) return error;
  let classification: Classification = { kind: "permanent", reason: "internal" };
  let httpStatus: number | undefined;
  let code: string | undefined;
  if (error instanceof APIError) {
    httpStatus = error.response.status;
    classification = classifyHttpStatus(httpStatus);
  } else if (error instanceof StreamError) {
    // The command stream broke off mid-way: the connection, not the request, failed.
    classification = { kind: "transient", reason: "unavailable" };
    code = error.code;
  } else {
    const errno = findErrno(error);
    if (errno) {
      classification = classifyErrno(errno);
      code = errno;
    }
  }
  return providerError(PROVIDER, `Vercel could not ${what}: ${describeError(error)}`, classification, {
    ...(httpStatus === undefined ? {} : { httpStatus }),
    ...(code === undefined ? {} : { code }),
    cause: error,
  });
}
