import {
  CreateSandboxRequest,
  LookoutError,
  summarizeIssues,
  sha256Hex,
  type ProviderCapabilities,
  type SandboxCapacity,
  type SandboxInfo,
} from "@lookout/protocol";
import { Hono } from "hono";
import type { z } from "zod";
import {
  bridgeEnvironment,
  sandboxLookoutUrls,
  SandboxProviderError,
  type Logger,
  type SandboxEgress,
  type SandboxProvider,
  type SandboxState,
} from "@lookout/sandbox";
import type { ModelSettings } from "./config";
import { type GatewayEnv, jsonResponse } from "./http";
import { sandboxModelProviders } from "./model-providers";
import { runningCount, type CreatesInFlight, type StartedSandbox } from "./pool/capacity";
import type { WarmPool } from "./pool/pool";
import type { SandboxRecord, SandboxRegistry } from "./registry";
import type { SandboxRelays } from "./relay/relays";

export interface RouteContext {
  readonly provider: SandboxProvider;
  readonly registry: SandboxRegistry;
  readonly models: ModelSettings;
  readonly proxyBaseUrl: string;
  /** The gateway's own address as sandboxes see it; local repositories are served under `/git/`. */
  readonly publicUrl: string;
  /** The gateway's own address as the gateway reaches itself (relays forward git and model requests here). */
  readonly internalUrl: string;
  /** The per-sandbox relays of providers whose sandboxes have their own network (`network: "uplink"`). */
  readonly relays: SandboxRelays;
  /** Where sandboxes may go on the internet: the relays enforce it locally, vendors' firewalls remotely. */
  readonly egress: SandboxEgress;
  /** No create takes the gateway past this many running sandboxes (`LOOKOUT_MAX_RUNNING_SANDBOXES`). */
  readonly maxRunningSandboxes: number;
  /** Every create in flight, the pool's included (one map, shared with the pool, for the cap). */
  readonly creating: CreatesInFlight;
  /** The warm pool: a create it can serve claims a waiting sandbox instead of starting one. */
  readonly pool?: WarmPool | undefined;
  readonly logger: Logger;
}

interface RouteResult {
  readonly status: number;
  readonly body: unknown;
}

/** A sandbox id in a path: the same characters the control plane mints, at most 128 of them. */
const SANDBOX_ID = ":sandboxId{[A-Za-z0-9_-]{1,128}}";

/**
 * The `/v1` sandbox API (see `packages/protocol/src/gateway.ts`), mounted under `/v1` behind the
 * service-signature check. `context` is asked per request: the gateway's own URLs are known only
 * once it listens.
 */
export function sandboxRoutes(context: () => RouteContext): Hono<GatewayEnv> {
  const answer = async (result: RouteResult | Promise<RouteResult>) => {
    const { status, body } = await result;
    return jsonResponse(status, body);
  };
  return new Hono<GatewayEnv>()
    .get("/capabilities", () => jsonResponse(200, capabilities(context().provider)))
    .get("/capacity", () => answer(capacity(context())))
    .post("/sandboxes", (c) => answer(createSandbox(parseCreate(c.var.body), context())))
    .get(`/sandboxes/${SANDBOX_ID}`, (c) => answer(describeSandbox(c.req.param("sandboxId"), context())))
    .delete(`/sandboxes/${SANDBOX_ID}`, (c) => answer(terminateSandbox(c.req.param("sandboxId"), context())))
    .post(`/sandboxes/${SANDBOX_ID}/snapshot`, (c) => answer(snapshotSandbox(c.req.param("sandboxId"), context())));
}

function capabilities(provider: SandboxProvider): z.infer<typeof ProviderCapabilities> {
  return {
    provider: provider.name,
    snapshots: provider.capabilities.snapshots,
    restore: provider.capabilities.restore,
    timeouts: provider.capabilities.timeouts,
  };
}

function parseCreate(body: Uint8Array): CreateSandboxRequest {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new LookoutError("INVALID_JSON");
  }
  const parsed = CreateSandboxRequest.safeParse(data);
  if (!parsed.success) {
    throw new LookoutError("VALIDATION_FAILED", summarizeIssues(parsed.error), {
      issues: parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
    });
  }
  return parsed.data;
}

/**
 * Creates a sandbox once per id. A retry with the same token (the caller gave up waiting) answers
 * with the sandbox made or being made, never a second one: a second would overwrite the first's
 * record, and nothing could terminate the first any more.
 */
async function createSandbox(request: CreateSandboxRequest, context: RouteContext): Promise<RouteResult> {
  const { provider, registry, creating } = context;
  const tokenHash = await sha256Hex(request.sandboxToken);
  const earlier = registry.get(request.sandboxId) ?? creating.get(request.sandboxId);
  if (earlier) {
    if (earlier.tokenHash !== tokenHash) throw new LookoutError("CONFLICT", `Sandbox ${request.sandboxId} already exists.`);
    if ("created" in earlier) context.logger.debug("sandbox create retried while in progress", { sandboxId: request.sandboxId });
    const record = "created" in earlier ? (await earlier.created).record : earlier;
    return { status: 200, body: await sandboxInfo(record, context) };
  }
  if (request.repository.kind === "local" && provider.name !== "local") {
    throw new LookoutError(
      "VALIDATION_FAILED",
      `Local repositories need the local sandbox provider; this gateway runs "${provider.name}". Use a remote repository.`,
    );
  }
  if (request.snapshotId && !provider.capabilities.restore) {
    throw new LookoutError("UNSUPPORTED", `The ${provider.name} provider cannot restore snapshots.`);
  }
  // A waiting warm sandbox takes no new place: it is handed over (and re-keyed) instead.
  const warm = context.pool?.reserve(request);
  let created: Promise<StartedSandbox>;
  if (warm) {
    created = warm.hand(request, tokenHash).then((started) => started ?? startSandbox(request, tokenHash, context));
  } else {
    const ended = await endedAtCapacity(context);
    // The last check and the registration below run without an await between them, so two creates
    // arriving together cannot both take the last place. At the cap, an unclaimed pool sandbox
    // gives up its place (it is terminated before this one starts); sessions come before the pool.
    const atCap = runningCount(registry, creating, ended) >= context.maxRunningSandboxes;
    const evicting = atCap ? context.pool?.evictOne() : undefined;
    if (atCap && !evicting) {
      context.logger.warn("sandbox refused at the cap", { sandboxId: request.sandboxId, max: context.maxRunningSandboxes });
      throw new LookoutError(
        "SANDBOX_UNAVAILABLE",
        `This gateway already runs its maximum of ${context.maxRunningSandboxes} sandboxes (LOOKOUT_MAX_RUNNING_SANDBOXES); ` +
          "stop an idle session's sandbox or raise the limit.",
      );
    }
    created = evicting ? evicting.then(() => startSandbox(request, tokenHash, context)) : startSandbox(request, tokenHash, context);
  }
  // Registered before anything is awaited, so a retry arriving from here on finds it.
  creating.set(request.sandboxId, { tokenHash, created });
  try {
    const { record, status, warm: fromPool } = await created;
    return { status: 201, body: { ...info(record, status, context), ...(fromPool ? { warm: true } : {}) } };
  } finally {
    creating.delete(request.sandboxId);
    context.pool?.poke();
  }
}

/** How many sandboxes run against the cap, every recorded one's state asked of the provider. */
async function capacity(context: RouteContext): Promise<RouteResult> {
  return { status: 200, body: await currentCapacity(context) };
}

/** Running sandboxes (every recorded one's state asked of the provider) against the cap. */
export async function currentCapacity(context: RouteContext): Promise<SandboxCapacity> {
  const ended = await endedSandboxes(context, context.registry.unstopped());
  return { running: runningCount(context.registry, context.creating, ended), max: context.maxRunningSandboxes };
}

/**
 * At the cap by the records alone, asks the provider which recorded sandboxes ended on their own
 * (a timeout, a crash: their records stay until the control plane terminates them); those do not
 * count. A sandbox whose state cannot be read counts as running: the cap fails closed.
 */
async function endedAtCapacity(context: RouteContext): Promise<Set<string>> {
  if (runningCount(context.registry, context.creating) < context.maxRunningSandboxes) return new Set();
  return endedSandboxes(context, context.registry.unstopped());
}

/** Which of `records` the provider says have stopped or failed (or no longer knows). */
async function endedSandboxes(context: RouteContext, records: readonly SandboxRecord[]): Promise<Set<string>> {
  const ended = new Set<string>();
  for (const record of records) {
    const state = await context.provider
      .status(record.providerId)
      .catch((error: unknown) => (error instanceof SandboxProviderError && error.reason === "not_found" ? "stopped" : "unknown"));
    if (state === "stopped" || state === "failed") ended.add(record.sandboxId);
  }
  return ended;
}

/**
 * Starts the sandbox (opening its relay first when it has its own network) and records it.
 * `extraEnv` is added to the bridge's environment (the pool's channel for a warm-pool sandbox).
 */
export async function startSandbox(
  request: CreateSandboxRequest,
  tokenHash: string,
  context: RouteContext,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<StartedSandbox> {
  // Marked before anything is awaited, so the snapshot is not deleted while this sandbox starts from it.
  const release = request.snapshotId ? context.registry.startingFrom(request.snapshotId) : undefined;
  try {
    return await startRecorded(request, tokenHash, context, extraEnv);
  } finally {
    release?.();
  }
}

async function startRecorded(
  request: CreateSandboxRequest,
  tokenHash: string,
  context: RouteContext,
  extraEnv: Readonly<Record<string, string>>,
): Promise<StartedSandbox> {
  const { provider, registry } = context;
  const network = provider.capabilities.network;
  // A sandbox with its own network reaches Lookout only through its relay, at the uplink's URLs.
  const urls = sandboxLookoutUrls(network, { controlPlaneUrl: request.controlPlaneUrl, gatewayUrl: context.publicUrl });
  const proxyBaseUrl = network === "uplink" ? `${urls.gatewayUrl}/model-proxy` : context.proxyBaseUrl;
  const modelProviders = await sandboxModelProviders(context.models, {
    proxyBaseUrl,
    requestedModel: request.model,
    logger: context.logger,
  });
  const uplinkSocket =
    network === "uplink"
      ? await context.relays.open(
          {
            sessionId: request.sessionId,
            sandboxId: request.sandboxId,
            controlPlaneUrl: request.controlPlaneUrl,
            gatewayUrl: context.internalUrl,
          },
          request.repository.kind === "remote" ? [new URL(request.repository.cloneUrl).hostname] : [],
        )
      : undefined;
  const config = {
    sandboxId: request.sandboxId,
    env: { ...bridgeEnvironment(request, modelProviders, context.publicUrl, network), ...extraEnv },
    timeoutMs: Math.min(request.timeoutMs, provider.capabilities.maxTimeoutMs),
    egress: context.egress,
    ...(uplinkSocket ? { uplinkSocket } : {}),
  };
  let handle: Awaited<ReturnType<SandboxProvider["create"]>>;
  try {
    handle = request.snapshotId
      ? await provider.restore(request.snapshotId, config)
      : await provider.create({ ...config, source: { kind: "image" } });
  } catch (error) {
    await context.relays.close(request.sandboxId);
    throw error;
  }

  const record: SandboxRecord = {
    sandboxId: request.sandboxId,
    provider: provider.name,
    providerId: handle.providerId,
    tokenHash,
    createdAtMs: Date.now(),
    ...(request.snapshotId ? { restoredFrom: request.snapshotId } : {}),
  };
  await registry.put(record);
  context.logger.info("sandbox created", {
    sandboxId: request.sandboxId,
    sessionId: request.sessionId,
    providerId: handle.providerId,
    restoredFrom: request.snapshotId,
  });
  return { record, status: handle.status };
}

async function describeSandbox(sandboxId: string, context: RouteContext): Promise<RouteResult> {
  return { status: 200, body: await sandboxInfo(recordOf(sandboxId, context), context) };
}

async function snapshotSandbox(sandboxId: string, context: RouteContext): Promise<RouteResult> {
  const record = recordOf(sandboxId, context);
  if (!context.provider.capabilities.snapshots) {
    throw new LookoutError("UNSUPPORTED", `The ${context.provider.name} provider cannot take snapshots.`);
  }
  const { snapshotId } = await context.provider.snapshot(record.providerId);
  // A snapshot that stops the sandbox ends its token's model access now (see `SandboxLiveness`).
  if (context.provider.capabilities.snapshotStopsSandbox) await context.registry.markStopped(sandboxId);
  context.logger.info("sandbox snapshot taken", { sandboxId, snapshotId });
  return { status: 200, body: { snapshotId } };
}

async function terminateSandbox(sandboxId: string, context: RouteContext): Promise<RouteResult> {
  const record = recordOf(sandboxId, context);
  await context.provider.terminate(record.providerId);
  await context.relays.close(sandboxId);
  // The token stops opening the model proxy the moment its sandbox is gone.
  await context.registry.delete(sandboxId);
  context.logger.info("sandbox terminated", { sandboxId });
  return { status: 200, body: info(record, "stopped", context) };
}

function recordOf(sandboxId: string, context: RouteContext): SandboxRecord {
  const record = context.registry.get(sandboxId);
  if (!record) throw new LookoutError("SANDBOX_NOT_FOUND");
  return record;
}

async function sandboxInfo(record: SandboxRecord, context: RouteContext): Promise<SandboxInfo> {
  return info(record, await context.provider.status(record.providerId), context);
}

function info(record: SandboxRecord, status: SandboxState, context: RouteContext): SandboxInfo {
  return {
    sandboxId: record.sandboxId,
    provider: record.provider,
    providerId: record.providerId,
    status,
    snapshotStopsSandbox: context.provider.capabilities.snapshotStopsSandbox,
    ...(record.restoredFrom ? { restoredFrom: record.restoredFrom } : {}),
  };
}
