import { refuseDomainPolicy } from "../vendor-egress";
import { randomBytes } from "node:crypto";
import { Daytona, DaytonaConnectionError, DaytonaError, DaytonaTimeoutError, type Sandbox } from "@daytonaio/sdk";
import { IMAGE_LAYOUT, withLayout, withSeparateAgentUser } from "../bridge-env";
import { classifyErrno, classifyHttpStatus, findErrno, providerError, SandboxProviderError, type Classification } from "../errors";
import { describeError, silentLogger, type Logger } from "../logger";
import type { SandboxCreateConfig, SandboxHandle, SandboxProvider, SandboxProviderCapabilities, SandboxState } from "../provider";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { daytonaSnapshotName } from "./daytona-snapshot";

const PROVIDER = "daytona";
/** The toolbox session the bridge runs in; one per sandbox. */
export const BRIDGE_SESSION = "lookout-bridge";
/** Seconds the SDK may wait for a sandbox to start or a snapshot to finish. */
const CREATE_TIMEOUT_S = 180;
const SNAPSHOT_TIMEOUT_S = 600;
/** Stopped sandboxes are archived after a week, so a restore of a stale session stays cheap. */
const AUTO_ARCHIVE_MINUTES = 7 * 24 * 60;

export interface DaytonaProviderOptions {
  readonly apiKey: string;
  /** The Daytona API (`https://app.daytona.io/api` by default); tests point it at a fake. */
  readonly apiUrl?: string;
  readonly target?: string;
  /** The base snapshot built from `infra/sandbox-image` (see `daytona-snapshot.ts`). */
  readonly baseSnapshot?: string;
  readonly logger?: Logger;
}

const STATE_MAP: Record<string, SandboxState> = {
  started: "running",
  creating: "starting",
  starting: "starting",
  restoring: "starting",
  pending_build: "starting",
  building_snapshot: "starting",
  pulling_snapshot: "starting",
  resuming: "starting",
  snapshotting: "running",
  resizing: "running",
  forking: "running",
  stopped: "stopped",
  stopping: "stopped",
  archived: "stopped",
  archiving: "stopped",
  paused: "stopped",
  pausing: "stopped",
  destroyed: "stopped",
  destroying: "stopped",
  error: "failed",
  build_failed: "failed",
};

/**
 * Daytona sandboxes through the official SDK. Each sandbox starts from a Daytona snapshot (the
 * base one built from the sandbox image, or one taken from an earlier sandbox), gets the bridge's
 * environment as its env vars, and runs the bridge in a background toolbox session.
 */
export class DaytonaProvider implements SandboxProvider {
  readonly name = PROVIDER;
  readonly capabilities: SandboxProviderCapabilities = {
    snapshots: true,
    restore: true,
    timeouts: true,
    maxTimeoutMs: 24 * 3600_000,
    snapshotStopsSandbox: false,
    network: "vendor",
  };

  private readonly client: Daytona;
  private readonly logger: Logger;
  private readonly baseSnapshot: string;

  constructor(options: DaytonaProviderOptions) {
    this.logger = (options.logger ?? silentLogger).child({ provider: PROVIDER });
    this.baseSnapshot = options.baseSnapshot ?? daytonaSnapshotName(SANDBOX_IMAGE);
    this.client = new Daytona({
      apiKey: options.apiKey,
      ...(options.apiUrl ? { apiUrl: options.apiUrl } : {}),
      ...(options.target ? { target: options.target } : {}),
      // Polling keeps the gateway stateless: no long-lived event socket per gateway process.
      useDeprecatedPolling: true,
    });
  }

  async create(config: SandboxCreateConfig): Promise<SandboxHandle> {
    refuseDomainPolicy(PROVIDER, config);
    const snapshot = config.source.kind === "snapshot" ? config.source.snapshotId : this.baseSnapshot;
    const sandbox = await this.call("create the sandbox", () =>
      this.client.create(
        {
          snapshot,
          // The bridge runs as root and starts the agent as the image's user (separate-user isolation).
          user: "root",
          envVars: withLayout(withSeparateAgentUser(config.env), IMAGE_LAYOUT),
          labels: { "lookout.sandbox-id": config.sandboxId },
          public: false,
          // Daytona stops sandboxes after this many idle minutes; the control plane stops them
          // earlier on inactivity, so this is the hard backstop for `timeoutMs`.
          autoStopInterval: Math.max(1, Math.ceil(config.timeoutMs / 60_000)),
          autoArchiveInterval: AUTO_ARCHIVE_MINUTES,
        },
        { timeout: CREATE_TIMEOUT_S },
      ),
    );
    try {
      await this.startBridge(sandbox);
    } catch (error) {
      // A sandbox without its bridge is useless; do not leave it running (and billing).
      await sandbox.delete().catch((cleanup: unknown) => this.logger.warn("cleanup failed", { error: describeError(cleanup) }));
      throw error;
    }
    this.logger.info("sandbox started", { sandboxId: config.sandboxId, providerId: sandbox.id, snapshot });
    return { providerId: sandbox.id, status: mapState(sandbox.state) };
  }

  async restore(snapshotId: string, config: Omit<SandboxCreateConfig, "source">): Promise<SandboxHandle> {
    return this.create({ ...config, source: { kind: "snapshot", snapshotId } });
  }

  async status(providerId: string): Promise<SandboxState> {
    const sandbox = await this.call("read the sandbox", () => this.client.get(providerId));
    return mapState(sandbox.state);
  }

  async snapshot(providerId: string): Promise<{ snapshotId: string }> {
    const sandbox = await this.call("read the sandbox", () => this.client.get(providerId));
    // Daytona snapshots are named; the name is the id a later create takes.
    const name = `lookout-${providerId.slice(0, 40)}-${randomBytes(6).toString("hex")}`;
    await this.call("snapshot the sandbox", () => sandbox.createSnapshot(name, SNAPSHOT_TIMEOUT_S));
    return { snapshotId: name };
  }

  /**
   * Deletes the named Daytona snapshot (`snapshot.delete` resolves the name to its id, then
   * `DELETE /snapshots/{id}`). The base snapshot is never deleted here: every sandbox starts from it.
   */
  async deleteSnapshot(snapshotId: string): Promise<void> {
    if (snapshotId === this.baseSnapshot) {
      throw providerError(PROVIDER, "The base snapshot every sandbox starts from is not deleted.", {
        kind: "permanent",
        reason: "invalid_request",
      });
    }
    try {
      await this.call("delete the snapshot", () => this.client.snapshot.delete(snapshotId));
    } catch (error) {
      if (error instanceof SandboxProviderError && error.reason === "not_found") return;
      throw error;
    }
    this.logger.info("snapshot deleted", { snapshotId });
  }

  async terminate(providerId: string): Promise<void> {
    try {
      const sandbox = await this.call("read the sandbox", () => this.client.get(providerId));
      await this.call("delete the sandbox", () => sandbox.delete());
    } catch (error) {
      if (error instanceof SandboxProviderError && error.reason === "not_found") return;
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.client[Symbol.asyncDispose]();
  }

  private async startBridge(sandbox: Sandbox): Promise<void> {
    await this.call("open the bridge session", () => sandbox.process.createSession(BRIDGE_SESSION));
    const [program, ...args] = SANDBOX_IMAGE.command;
    await this.call("start the bridge", () =>
      sandbox.process.executeSessionCommand(BRIDGE_SESSION, {
        command: `cd ${SANDBOX_IMAGE.workspaceDir} && exec ${[program, ...args].join(" ")}`,
        runAsync: true,
      }),
    );
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyDaytonaError(error, what);
    }
  }
}

function mapState(state: string | undefined): SandboxState {
  return (state && STATE_MAP[state]) || "unknown";
}

/** Classifies from the SDK's structured fields: HTTP status, then error class, then errno. */
export function classifyDaytonaError(error: unknown, what: string): SandboxProviderError {
  if (error instanceof SandboxProviderError) return error;
  let classification: Classification = { kind: "permanent", reason: "internal" };
  let httpStatus: number | undefined;
  let code: string | undefined;
  if (error instanceof DaytonaError) {
    httpStatus = error.statusCode;
    code = error.code;
    if (httpStatus !== undefined) classification = classifyHttpStatus(httpStatus);
    else if (error instanceof DaytonaTimeoutError) classification = { kind: "transient", reason: "timeout" };
    else if (error instanceof DaytonaConnectionError) classification = { kind: "transient", reason: "unavailable" };
  }
  const errno = httpStatus === undefined ? findErrno(error) : undefined;
  if (errno) {
    classification = classifyErrno(errno);
    code = errno;
  }
  return providerError(PROVIDER, `Daytona could not ${what}: ${describeError(error)}`, classification, {
    ...(httpStatus === undefined ? {} : { httpStatus }),
    ...(code === undefined ? {} : { code }),
    cause: error,
  });
}
