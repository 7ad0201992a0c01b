import { createHash, randomBytes } from "node:crypto";
import {
  BRIDGE_ENV,
  LookoutError,
  SANDBOX_TOKEN_PREFIX,
  type CreateSandboxRequest,
  type GitCredentialResponse,
  type ImageBuildReport,
  type ImageBuildRequest,
  type ImageBuildState,
} from "@lookout/protocol";
import { describeError, sandboxLookoutUrls, SandboxProviderError } from "@lookout/sandbox";
import { runningCount } from "../pool/capacity";
import { terminateQuietly } from "../pool/pool-sandbox";
import { startSandbox, type RouteContext } from "../routes";
import { deleteSnapshot } from "./snapshots";

/** Every build sandbox's id starts with this. */
export const BUILD_SANDBOX_PREFIX = "img-";
/** Where a build sandbox's channel is served on the gateway (`routes.ts`). */
export const IMAGE_BUILD_PREFIX = "/image-build/";
/** The setup script's time limit when the request names none. */
export const DEFAULT_BUILD_SETUP_TIMEOUT_MS = 10 * 60_000;
/** Time a build gets beyond its setup script's limit: cloning, starting, reporting. */
export const BUILD_PREPARE_MARGIN_MS = 5 * 60_000;
/** How often a build waiting for its report asks the provider whether the sandbox still runs. */
export const BUILD_STATUS_POLL_MS = 1_000;
/** Finished builds the gateway remembers for `GET /v1/images/builds/:id` (the control plane keeps the history). */
const REMEMBERED_BUILDS = 200;
/** A model id that names no provider: a build starts no OpenCode, so it needs none. */
const NO_MODEL = "lookout-build/none";

/** What a build sandbox's channel may hand out: a minted credential for a local repository, the control plane's for a remote one. */
export interface BuildChannelEntry {
  readonly sandboxId: string;
  readonly repository:
    { readonly kind: "local"; readonly path: string } | { readonly kind: "remote"; readonly gitCredential?: GitCredentialResponse };
}

/** A credential that is there and still valid for a minute at least (a clone takes that long at most before it asks). */
function usable(credential: GitCredentialResponse | undefined, nowMs: number): boolean {
  return credential !== undefined && credential.expiresAt > nowMs + 60_000;
}

interface BuildEntry {
  readonly sandboxId: string;
  readonly tokenHash: string;
  readonly request: ImageBuildRequest;
  state: ImageBuildState;
  reported?: (report: ImageBuildReport) => void;
}

export interface ImageBuildsOptions {
  readonly context: () => RouteContext;
  readonly now?: () => number;
  readonly statusPollMs?: number;
  readonly prepareMarginMs?: number;
}

/**
 * Repository image builds (ADR 0015). A build is a sandbox started through the provider interface
 * like any session's, its bridge in build mode (`LOOKOUT_IMAGE_BUILD_URL`): it clones the base
 * branch's head, runs the repository's setup script and reports on its build channel. The gateway
 * then snapshots the sandbox (`provider.snapshot`) and terminates it; the snapshot id is the image.
 * A build takes a place under the running-sandbox cap like any sandbox and is refused at it.
 */
export class ImageBuilds {
  readonly #builds = new Map<string, BuildEntry>();
  readonly #bySandbox = new Map<string, BuildEntry>();
  readonly #running = new Set<Promise<void>>();
  readonly #now: () => number;

  constructor(private readonly options: ImageBuildsOptions) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Terminates build sandboxes an earlier gateway run left recorded: their builds ended with that
   * run (the control plane records them failed when it finds the gateway no longer knows them).
   */
  async retireOrphans(): Promise<void> {
    const context = this.options.context();
    const orphans = context.registry.unstopped().filter((record) => record.sandboxId.startsWith(BUILD_SANDBOX_PREFIX));
    for (const record of orphans) await terminateQuietly(context, record.sandboxId);
  }

  /** Starts a build and answers its state at once; a repeated build id answers the same build. */
  start(request: ImageBuildRequest): ImageBuildState {
    const existing = this.#builds.get(request.buildId);
    if (existing) return existing.state;
    const context = this.options.context();
    if (request.repository.kind === "remote" && !usable(request.gitCredential, this.#now())) {
      throw new LookoutError(
        "SCM_NOT_CONFIGURED",
        "An image of a remote repository needs a read-only credential for its clone, and the request carried none that is still valid.",
      );
    }
    if (!context.provider.capabilities.snapshots) {
      throw new LookoutError("UNSUPPORTED", `The ${context.provider.name} provider cannot take snapshots, so it cannot build images.`);
    }
    if (runningCount(context.registry, context.creating) >= context.maxRunningSandboxes) {
      throw new LookoutError(
        "SANDBOX_UNAVAILABLE",
        `This gateway already runs its maximum of ${context.maxRunningSandboxes} sandboxes (LOOKOUT_MAX_RUNNING_SANDBOXES); the image build waits for the next schedule.`,
      );
    }
    const sandboxId = `${BUILD_SANDBOX_PREFIX}${randomBytes(9).toString("hex")}`;
    // The sandbox-token prefix: a build token that leaks into text is redacted like any sandbox token.
    const token = `${SANDBOX_TOKEN_PREFIX}build_${randomBytes(24).toString("base64url")}`;
    const tokenHash = createHash("sha256").update(token).digest("hex");
    const entry: BuildEntry = {
      sandboxId,
      tokenHash,
      request,
      state: { buildId: request.buildId, status: "building", startedAtMs: this.#now() },
    };
    this.#builds.set(request.buildId, entry);
    this.#bySandbox.set(sandboxId, entry);
    const started = startSandbox(this.#createRequest(entry, token, context), tokenHash, context, {
      [BRIDGE_ENV.imageBuildUrl]: this.#channelUrl(context, request.controlPlaneUrl, sandboxId),
      [BRIDGE_ENV.setupTimeoutMs]: String(request.setupTimeoutMs ?? DEFAULT_BUILD_SETUP_TIMEOUT_MS),
    });
    // Registered before anything is awaited: the cap counts the build from here on.
    context.creating.set(sandboxId, { tokenHash, created: started });
    const run = this.#run(entry, started).finally(() => {
      this.#running.delete(run);
      this.#forgetOld();
    });
    this.#running.add(run);
    return entry.state;
  }

  /** A build's state, or undefined for an id this gateway never started (or has forgotten). */
  get(buildId: string): ImageBuildState | undefined {
    return this.#builds.get(buildId)?.state;
  }

  /** The build a channel request is for, when its token is that build sandbox's and it still waits for the report. */
  entryFor(sandboxId: string, tokenHash: string): BuildChannelEntry | undefined {
    const entry = this.#bySandbox.get(sandboxId);
    if (!entry || entry.tokenHash !== tokenHash || entry.state.status !== "building") return undefined;
    const { repository, gitCredential } = entry.request;
    return repository.kind === "local"
      ? { sandboxId, repository: { kind: "local", path: repository.path } }
      : { sandboxId, repository: { kind: "remote", ...(gitCredential ? { gitCredential } : {}) } };
  }

  /** The build sandbox's report (once; later ones are refused). */
  report(sandboxId: string, report: ImageBuildReport): void {
    const entry = this.#bySandbox.get(sandboxId);
    const deliver = entry?.reported;
    if (!entry || !deliver) throw new LookoutError("CONFLICT", "This build has already reported.");
    entry.reported = undefined;
    deliver(report);
  }

  /** Deletes a superseded image's snapshot from the provider (see `deleteSnapshot`). */
  deleteSnapshot(snapshotId: string): Promise<void> {
    return deleteSnapshot(this.options.context(), snapshotId);
  }

  /** Resolves once no build runs (shutdown and tests). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  async #run(entry: BuildEntry, started: ReturnType<typeof startSandbox>): Promise<void> {
    const context = this.options.context();
    const reported = new Promise<ImageBuildReport>((resolve) => (entry.reported = resolve));
    try {
      const { record } = await started.finally(() => context.creating.delete(entry.sandboxId));
      const timeoutMs =
        (entry.request.setupTimeoutMs ?? DEFAULT_BUILD_SETUP_TIMEOUT_MS) + (this.options.prepareMarginMs ?? BUILD_PREPARE_MARGIN_MS);
      const report = await this.#waitForReport(reported, record.providerId, timeoutMs);
      if (report.outcome === "failed") {
        this.#finish(entry, { status: "failed", error: report.message, ...(report.output ? { output: report.output } : {}) });
        return;
      }
      const { snapshotId } = await context.provider.snapshot(record.providerId);
      this.#finish(entry, {
        status: "ready",
        baseSha: report.baseSha,
        snapshotId,
        ...(report.output ? { output: report.output } : {}),
      });
      context.logger.info("repository image built", { buildId: entry.request.buildId, snapshotId, baseSha: report.baseSha });
    } catch (error) {
      const message = error instanceof LookoutError ? error.message : `The image build failed: ${describeError(error)}`;
      context.logger.warn("repository image build failed", { buildId: entry.request.buildId, error: describeError(error) });
      this.#finish(entry, { status: "failed", error: message.slice(0, 2_000) });
    } finally {
      entry.reported = undefined;
      await terminateQuietly(context, entry.sandboxId);
    }
  }

  /** The report, unless the sandbox ends first or the time runs out. */
  async #waitForReport(reported: Promise<ImageBuildReport>, providerId: string, timeoutMs: number): Promise<ImageBuildReport> {
    const context = this.options.context();
    const deadline = this.#now() + timeoutMs;
    const pollMs = this.options.statusPollMs ?? BUILD_STATUS_POLL_MS;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), pollMs)));
      const report = await Promise.race([reported, tick]).finally(() => clearTimeout(timer));
      if (report) return report;
      const state = await context.provider
        .status(providerId)
        .catch((error: unknown) => (error instanceof SandboxProviderError && error.reason === "not_found" ? "stopped" : "unknown"));
      if (state === "stopped" || state === "failed") {
        throw new LookoutError("SANDBOX_UNAVAILABLE", `The build sandbox ended (${state}) before it reported; see the gateway's log.`);
      }
      if (this.#now() >= deadline) {
        throw new LookoutError("SANDBOX_UNAVAILABLE", `The build sandbox did not report within ${timeoutMs} ms.`);
      }
    }
  }

  #finish(entry: BuildEntry, outcome: Omit<ImageBuildState, "buildId" | "startedAtMs">): void {
    entry.state = { buildId: entry.state.buildId, startedAtMs: entry.state.startedAtMs, finishedAtMs: this.#now(), ...outcome };
  }

  #createRequest(entry: BuildEntry, token: string, context: RouteContext): CreateSandboxRequest {
    const { request } = entry;
    return {
      // Its "session" is the build sandbox itself: its relay serves its own channel and git path only.
      sessionId: entry.sandboxId,
      sandboxId: entry.sandboxId,
      sandboxToken: token,
      controlPlaneUrl: request.controlPlaneUrl,
      repository: request.repository,
      baseBranch: request.baseBranch,
      branch: request.baseBranch,
      model: NO_MODEL,
      env: {},
      timeoutMs: Math.min(
        (request.setupTimeoutMs ?? DEFAULT_BUILD_SETUP_TIMEOUT_MS) + 2 * (this.options.prepareMarginMs ?? BUILD_PREPARE_MARGIN_MS),
        context.provider.capabilities.maxTimeoutMs,
      ),
    };
  }

  #channelUrl(context: RouteContext, controlPlaneUrl: string, sandboxId: string): string {
    const urls = sandboxLookoutUrls(context.provider.capabilities.network, { controlPlaneUrl, gatewayUrl: context.publicUrl });
    return `${urls.gatewayUrl}${IMAGE_BUILD_PREFIX}${sandboxId}`;
  }

  #forgetOld(): void {
    const finished = [...this.#builds.values()].filter((entry) => entry.state.status !== "building");
    for (const entry of finished.slice(0, Math.max(0, finished.length - REMEMBERED_BUILDS))) {
      this.#builds.delete(entry.request.buildId);
      this.#bySandbox.delete(entry.sandboxId);
    }
  }
}
