import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { getRequestListener, RequestError } from "@hono/node-server";
import { LookoutError, MemoryNonceStore, type NonceStore } from "@lookout/protocol";
import { createLogger, describeError, type Logger, type SandboxEgress, type SandboxProvider } from "@lookout/sandbox";
import { createGatewayApp } from "./app";
import { DEFAULT_MAX_RUNNING_SANDBOXES, MAX_BODY_BYTES, MAX_MODEL_PROXY_BODY_BYTES, type GatewaySettings } from "./config";
import { installHooks } from "./git/http-backend";
import { RepositoryRoots } from "./git/repo-roots";
import { jsonResponse, toErrorResponse } from "./http";
import { proxyTargets } from "./model-providers";
import { SandboxLiveness } from "./model-proxy";
import type { CreatesInFlight } from "./pool/capacity";
import { ImageBuilds } from "./images/builds";
import { poolBranchHeads } from "./pool/branch-heads";
import { WarmPool } from "./pool/pool";
import { DEFAULT_POOL_SETTINGS } from "./pool/settings";
import { createProvider } from "./providers";
import type { RouteContext } from "./routes";
import { SandboxRegistry } from "./registry";
import { SandboxRelays } from "./relay/relays";
import type { PrivateDestination } from "./relay/egress";

export { CONTROL_PLANE_SERVICE } from "./app";

export interface GatewayConfig extends GatewaySettings {
  /** A ready provider; when absent one is built from `provider` settings. */
  readonly sandboxProvider?: SandboxProvider;
  readonly logger?: Logger;
  readonly nonces?: NonceStore;
  readonly maxBodyBytes?: number;
  /** Where sandboxes with their own network may go on the internet (default: public addresses). */
  readonly egress?: SandboxEgress;
  /** Private `host:port` destinations sandboxes may reach anyway (a GitHub Enterprise Server); none by default. */
  readonly privateDestinations?: readonly PrivateDestination[];
}

export interface RunningGateway {
  readonly url: string;
  readonly provider: SandboxProvider;
  /** The warm pool, for tests that wait on its reconciles. */
  readonly pool: WarmPool;
  /** Repository image builds, for tests that wait on them. */
  readonly images: ImageBuilds;
  close(): Promise<void>;
}

/** Starts the gateway's HTTP server; resolves once it listens. */
export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  const logger = config.logger ?? createLogger("sandbox-gateway", config.logLevel);
  // A provider handed in belongs to the caller, who closes it; one built here is closed here.
  const ownsProvider = config.sandboxProvider === undefined;
  const provider =
    config.sandboxProvider ?? (await createProvider(config.provider, { dataDir: config.dataDir, repoRoot: config.repoRoot, logger }));
  const registry = SandboxRegistry.load(join(config.dataDir, "registry.json"));
  const liveness = new SandboxLiveness(provider);
  const nonces = config.nonces ?? new MemoryNonceStore();
  const targets = proxyTargets(config.models);
  const maxBodyBytes = config.maxBodyBytes ?? MAX_BODY_BYTES;
  const gitDirs = { ...(await installHooks(config.dataDir)), roots: await RepositoryRoots.create(config.repoRoot, config.localRepoRoots) };
  const egress = config.egress ?? { mode: "public" };
  const relays = await SandboxRelays.create({ egress, logger, privateDestinations: config.privateDestinations ?? [] });
  if (!config.gitCredentialSecret) {
    logger.warn(
      "LOOKOUT_GIT_CREDENTIAL_SECRET is not set: local repositories are not served over git HTTP (every /git request is refused).",
    );
  }
  if (!config.serviceSecret) {
    logger.warn("LOOKOUT_SERVICE_SECRET_CONTROL_PLANE is not set: every /v1 request will be refused with SERVICE_NOT_CONFIGURED.");
  }

  // Filled in once the server listens (the port may be chosen by the OS).
  const addresses = { publicUrl: "", proxyBaseUrl: "", internalUrl: "" };
  // One map of creates in flight for sessions and the pool alike: the cap counts both.
  const creating: CreatesInFlight = new Map();
  const routeContext = (): RouteContext => ({
    provider,
    registry,
    models: config.models,
    relays,
    egress,
    logger,
    maxRunningSandboxes: config.maxRunningSandboxes ?? DEFAULT_MAX_RUNNING_SANDBOXES,
    creating,
    pool,
    ...addresses,
  });
  const pool: WarmPool = new WarmPool({
    context: routeContext,
    settings: config.pool ?? DEFAULT_POOL_SETTINGS,
    branchHeads: poolBranchHeads(gitDirs, logger),
  });
  const images = new ImageBuilds({ context: routeContext });
  const app = createGatewayApp({
    provider,
    routeContext,
    pool,
    images,
    modelProxy: { targets, registry, liveness, maxBodyBytes: MAX_MODEL_PROXY_BODY_BYTES, logger },
    git: { credentialSecret: config.gitCredentialSecret, ...gitDirs, logger },
    serviceSecret: config.serviceSecret,
    nonces,
    maxBodyBytes,
    logger,
  });
  const listener = getRequestListener(app.fetch, {
    // HTTP/1.0 callers may send no Host; the routes look at paths only.
    hostname: "gateway",
    // The app answers every error itself; what arrives here is a request no URL could be made of.
    errorHandler: (error) => {
      const refused =
        error instanceof RequestError ? new LookoutError("BAD_REQUEST", "The request target or Host header is malformed.") : error;
      const { status, body, expected } = toErrorResponse(refused);
      if (!expected) logger.error("request failed", { error: describeError(error) });
      return jsonResponse(status, body);
    },
  });
  const server = createServer((incoming, outgoing) => {
    listener(incoming, outgoing).catch((error: unknown) => {
      // Only writing the answer itself can fail here; the connection is all that is left to end.
      logger.error("response failed", { method: incoming.method, error: describeError(error) });
      outgoing.destroy();
    });
  });
  server.requestTimeout = 5 * 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? (address satisfies AddressInfo).port : config.port;
  const url = `http://${config.host}:${port}`;
  addresses.internalUrl = `http://${config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host}:${port}`;
  addresses.publicUrl = (config.publicUrl ?? url).replace(/\/+$/, "");
  addresses.proxyBaseUrl = `${addresses.publicUrl}/model-proxy`;
  logger.info("sandbox gateway listening", { url, provider: provider.name });
  await pool.start();
  await images.retireOrphans();

  return {
    url,
    provider,
    pool,
    images,
    close: async () => {
      await pool.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownsProvider) await provider.close();
      await relays.closeAll();
    },
  };
}
