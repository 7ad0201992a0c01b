import { LookoutError, PoolState, type PoolTarget, type PoolTargetsRequest, type SandboxPoolResponse } from "@lookout/protocol";
import type { Env } from "../env";
import { signedGatewayCall } from "../gateway-call";
import { gatewayFetcher } from "../gateway-container";
import { log } from "../log";
import { githubCloneUrl, readOnlyGitCredential } from "../scm/github/settings";
import { SandboxPoolStore, type PoolWishRow } from "./store";
import { newestRepositoryImage } from "../repository-images/store";

/** A repository used this recently gets the default pool of one. */
export const POOL_RECENT_USE_MS = 24 * 3600_000;
/** The pool's size for a recently used repository nobody sized. */
export const DEFAULT_POOL_SIZE_WHEN_USED = 1;
/** While any repository is pooled, the scheduler pushes the targets at least this often. */
export const POOL_PUSH_INTERVAL_MS = 60_000;

/** The size a repository's pool should have: its setting, else one if used in the last day. */
export function poolSize(wish: Pick<PoolWishRow, "configuredSize" | "lastUsedAtMs">): number {
  if (wish.configuredSize !== null) return wish.configuredSize;
  return wish.lastUsedAtMs !== null ? DEFAULT_POOL_SIZE_WHEN_USED : 0;
}

/** The targets the gateway is sent: every repository whose size is above zero. */
export function poolTargets(env: Env, wishes: readonly PoolWishRow[]): PoolTarget[] {
  const targets: PoolTarget[] = [];
  for (const wish of wishes) {
    const size = poolSize(wish);
    if (size === 0) continue;
    const repository: PoolTarget["repository"] | undefined =
      wish.kind === "local"
        ? wish.path
          ? { kind: "local", path: wish.path }
          : undefined
        : { kind: "remote", cloneUrl: githubCloneUrl(env, wish.fullName) };
    if (!repository) continue;
    targets.push({
      repositoryKey: wish.repositoryId,
      repository,
      baseBranch: wish.defaultBranch,
      size,
      ...(wish.lastUsedAtMs !== null ? { lastUsedAtMs: wish.lastUsedAtMs } : {}),
    });
  }
  return targets;
}

/** The gateway's `/v1/pool`, called with signed requests like the rest of `/v1`. */
export class GatewayPool {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string | undefined,
    private readonly fetcher: typeof fetch,
  ) {}

  static fromEnv(env: Pick<Env, "GATEWAY_URL" | "GATEWAY_SERVICE_SECRET" | "GATEWAY" | "GATEWAY_CONTAINER">): GatewayPool {
    return new GatewayPool(env.GATEWAY_URL, env.GATEWAY_SERVICE_SECRET, gatewayFetcher(env));
  }

  async state(): Promise<PoolState> {
    const parsed = PoolState.safeParse(await this.call("GET", "/v1/pool", undefined));
    if (!parsed.success) throw new LookoutError("INTERNAL", "The gateway's pool state has the wrong shape.");
    return parsed.data;
  }

  async setTargets(request: PoolTargetsRequest): Promise<void> {
    await this.call("PUT", "/v1/pool/targets", request);
  }

  private call(method: string, path: string, body: unknown): Promise<unknown> {
    return signedGatewayCall(
      { baseUrl: this.baseUrl, secret: this.secret, fetcher: this.fetcher },
      { method, path, body, unconfigured: "the pool cannot be asked", otherwise: "INTERNAL" },
    );
  }
}

/**
 * Computes the targets from D1 and sends them to the gateway. Returns how many repositories are
 * pooled, so the scheduler keeps waking while there are any.
 */
export async function pushPoolTargets(env: Env, now: number, gateway: GatewayPool = GatewayPool.fromEnv(env)): Promise<number> {
  const wishes = await new SandboxPoolStore(env.DB).wishes(now - POOL_RECENT_USE_MS);
  const targets = await withImages(env.DB, await withReadOnlyCredentials(env, poolTargets(env, wishes)));
  await gateway.setTargets({ controlPlaneUrl: env.PUBLIC_URL, targets });
  return targets.length;
}

/** Names each target's newest ready repository image, which its pool sandboxes start from (ADR 0015). */
async function withImages(db: D1Database, targets: PoolTarget[]): Promise<PoolTarget[]> {
  return Promise.all(
    targets.map(async (target) => {
      const image = await newestRepositoryImage(db, target.repositoryKey, target.baseBranch);
      return image ? { ...target, imageSnapshotId: image.snapshotId } : target;
    }),
  );
}

/**
 * Gives each GitHub target a read-only installation token (fetch, never push; an hour's life,
 * renewed with every push of the targets) for the pool's clone. A repository the App cannot mint
 * for goes without, and the gateway does not pool it.
 */
async function withReadOnlyCredentials(env: Env, targets: PoolTarget[]): Promise<PoolTarget[]> {
  return Promise.all(
    targets.map(async (target) => {
      if (target.repository.kind !== "remote") return target;
      const name =
        target.repository.cloneUrl
          .replace(/\.git$/, "")
          .split("/")
          .pop() ?? "";
      try {
        return { ...target, gitCredential: await readOnlyGitCredential(env, name) };
      } catch (error) {
        log.warn("no read-only token for a pooled repository", { repositoryId: target.repositoryKey, error: String(error) });
        return target;
      }
    }),
  );
}

/** `GET /api/sandbox-pool`: D1's wishes joined with the gateway's state (which may be missing). */
export async function sandboxPoolOverview(
  env: Env,
  now: number,
  gateway: GatewayPool = GatewayPool.fromEnv(env),
): Promise<SandboxPoolResponse> {
  const wishes = await new SandboxPoolStore(env.DB).wishes(now - POOL_RECENT_USE_MS);
  let state: PoolState | undefined;
  let gatewayError: string | undefined;
  try {
    state = await gateway.state();
  } catch (error) {
    gatewayError = error instanceof Error ? error.message : String(error);
  }
  const pools = new Map((state?.repositories ?? []).map((pool) => [pool.repositoryKey, pool]));
  return {
    repositories: wishes.map((wish) => {
      const pool = pools.get(wish.repositoryId);
      return {
        repositoryId: wish.repositoryId,
        repository: wish.fullName,
        size: poolSize(wish),
        configuredSize: wish.configuredSize,
        lastUsedAtMs: wish.lastUsedAtMs,
        ...(pool ? { pool } : {}),
      };
    }),
    capacity: state?.capacity ?? null,
    idleLimitMs: state?.idleLimitMs ?? null,
    ...(gatewayError !== undefined ? { gatewayError } : {}),
  };
}
