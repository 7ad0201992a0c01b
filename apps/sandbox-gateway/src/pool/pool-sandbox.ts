import { createHash, randomBytes } from "node:crypto";
import {
  BRIDGE_ENV,
  localRepositoryUrl,
  SANDBOX_TOKEN_PREFIX,
  type CreateSandboxRequest,
  type PoolClaim,
  type PoolTarget,
} from "@lookout/protocol";
import { describeError, sandboxLookoutUrls } from "@lookout/sandbox";
import { sandboxModelProviders } from "../model-providers";
import { startSandbox, type RouteContext } from "../routes";
import type { StartedSandbox } from "./capacity";

/** Every pool sandbox's id starts with this; records left by an earlier gateway run are recognised by it. */
export const POOL_SANDBOX_PREFIX = "pool-";
/** Where a pool bridge's channel is served on the gateway (`bridge-routes.ts`). */
export const POOL_BRIDGE_PREFIX = "/pool-bridge/";
/** A model id that names no provider: asking for it adds no model to any provider's list. */
const NO_REQUESTED_MODEL = "lookout-pool/none";

/** A new pool sandbox's identity: its id, the pool token its bridge authenticates with, and that token's hash. */
export function newPoolIdentity(): { sandboxId: string; token: string; tokenHash: string } {
  const sandboxId = `${POOL_SANDBOX_PREFIX}${randomBytes(9).toString("hex")}`;
  // The sandbox-token prefix: a pool token that leaks into text is redacted like any sandbox token.
  const token = `${SANDBOX_TOKEN_PREFIX}pool_${randomBytes(24).toString("base64url")}`;
  return { sandboxId, token, tokenHash: createHash("sha256").update(token).digest("hex") };
}

/**
 * The models a sandbox started now would offer (`provider/model`), and the one its OpenCode starts
 * with. A claim hands a warm sandbox only to a session whose model it offers; the model itself is
 * chosen per prompt, so no restart is needed for it.
 */
export async function offeredModels(context: RouteContext): Promise<{ models: ReadonlySet<string>; defaultModel: string | undefined }> {
  const providers = await sandboxModelProviders(context.models, {
    proxyBaseUrl: context.proxyBaseUrl,
    requestedModel: NO_REQUESTED_MODEL,
    logger: context.logger,
  });
  const models = new Set(providers.flatMap((provider) => provider.models.map((model) => `${provider.id}/${model}`)));
  return { models, defaultModel: models.values().next().value };
}

/** The channel URL a pool sandbox's bridge reaches the gateway at (through its relay when it has one). */
export function poolChannelUrl(context: RouteContext, controlPlaneUrl: string, sandboxId: string): string {
  const urls = sandboxLookoutUrls(context.provider.capabilities.network, { controlPlaneUrl, gatewayUrl: context.publicUrl });
  return `${urls.gatewayUrl}${POOL_BRIDGE_PREFIX}${sandboxId}`;
}

/**
 * Starts a pool sandbox through the provider interface like any session's (from the repository's
 * newest image when the targets name one): its "session" is the pool sandbox itself (so its relay serves its own pool channel and git path, and nothing of any
 * session), its branch the base branch, and `LOOKOUT_POOL_URL` puts its bridge in pool mode.
 */
export function startPoolSandbox(
  context: RouteContext,
  identity: { sandboxId: string; token: string; tokenHash: string },
  target: PoolTarget,
  options: { controlPlaneUrl: string; model: string; lifetimeMs: number; setupTimeoutMs: number },
): Promise<StartedSandbox> {
  const request: CreateSandboxRequest = {
    sessionId: identity.sandboxId,
    sandboxId: identity.sandboxId,
    sandboxToken: identity.token,
    controlPlaneUrl: options.controlPlaneUrl,
    repository: target.repository,
    baseBranch: target.baseBranch,
    branch: target.baseBranch,
    model: options.model,
    env: {},
    timeoutMs: options.lifetimeMs,
    // From the repository's image when it has one (and the provider restores): the bridge then only
    // catches up with the base branch before it runs the setup script again.
    ...(target.imageSnapshotId && context.provider.capabilities.restore ? { snapshotId: target.imageSnapshotId } : {}),
  };
  return startSandbox(request, identity.tokenHash, context, {
    [BRIDGE_ENV.poolUrl]: poolChannelUrl(context, options.controlPlaneUrl, identity.sandboxId),
    [BRIDGE_ENV.setupTimeoutMs]: String(options.setupTimeoutMs),
  });
}

/** Terminates a sandbox and forgets it (its relay closed, its record and token gone). Never throws. */
export async function terminateQuietly(context: RouteContext, sandboxId: string): Promise<void> {
  const record = context.registry.get(sandboxId);
  try {
    if (record) await context.provider.terminate(record.providerId);
  } catch (error) {
    context.logger.warn("pool sandbox could not be terminated", { sandboxId, error: describeError(error) });
  }
  await context.relays.close(sandboxId);
  await context.registry.delete(sandboxId);
}

/** What a claim hands the waiting bridge: the session's values, with URLs as its sandbox reaches them. */
export function claimFor(context: RouteContext, request: CreateSandboxRequest, upToDate: boolean): PoolClaim {
  const urls = sandboxLookoutUrls(context.provider.capabilities.network, {
    controlPlaneUrl: request.controlPlaneUrl,
    gatewayUrl: context.publicUrl,
  });
  return {
    sessionId: request.sessionId,
    sandboxId: request.sandboxId,
    sandboxToken: request.sandboxToken,
    controlPlaneUrl: urls.controlPlaneUrl,
    repoUrl: request.repository.kind === "remote" ? request.repository.cloneUrl : localRepositoryUrl(urls.gatewayUrl, request.sessionId),
    baseBranch: request.baseBranch,
    branch: request.branch,
    model: request.model,
    env: request.env,
    ...(request.readOnly ? { readOnly: true } : {}),
    ...(upToDate ? { upToDate: true } : {}),
  };
}
