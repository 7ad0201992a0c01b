import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { LookoutError, MemoryNonceStore, verifySignedRequest, type NonceStore } from "@lookout/protocol";
import { createLogger, describeError, type Logger, type SandboxEgress, type SandboxProvider } from "@lookout/sandbox";
import { MAX_BODY_BYTES, MAX_MODEL_PROXY_BODY_BYTES, type GatewaySettings } from "./config";
import { GIT_PATH_PREFIX, handleGitHttp, installHooks } from "./git/http-backend";
import { RepositoryRoots } from "./git/repo-roots";
import { routeGit } from "./git/routes";
import { readBody, sendJson, toErrorResponse } from "./http";
import { proxyTargets } from "./model-providers";
import { handleModelProxy, MODEL_PROXY_PREFIX, SandboxLiveness } from "./model-proxy";
import { createProvider } from "./providers";
import { SandboxRegistry } from "./registry";
import { SandboxRelays } from "./relay/relays";
import { routeV1 } from "./routes";

/** The service allowed to call `/v1`, and the env var holding its secret. */
export const CONTROL_PLANE_SERVICE = "control-plane";

export interface GatewayConfig extends GatewaySettings {
  /** A ready provider; when absent one is built from `provider` settings. */
  readonly sandboxProvider?: SandboxProvider;
  readonly logger?: Logger;
  readonly nonces?: NonceStore;
  readonly maxBodyBytes?: number;
  /** Where sandboxes with their own network may go on the internet (default: public addresses). */
  readonly egress?: SandboxEgress;
}

export interface RunningGateway {
  readonly url: string;
  readonly provider: SandboxProvider;
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
  const relays = await SandboxRelays.create({ egress, logger });
  if (!config.gitCredentialSecret) {
    logger.warn(
      "LOOKOUT_GIT_CREDENTIAL_SECRET is not set: local repositories are not served over git HTTP (every /git request is refused).",
    );
  }
  if (!config.serviceSecret) {
    logger.warn("LOOKOUT_SERVICE_SECRET_CONTROL_PLANE is not set: every /v1 request will be refused with SERVICE_NOT_CONFIGURED.");
  }

  // Filled in once the server listens (the port may be chosen by the OS).
  let publicUrl = "";
  let proxyBaseUrl = "";
  let internalUrl = "";

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const pathAndQuery = request.url ?? "/";
    const path = pathAndQuery.split("?")[0] ?? "/";
    if (path === "/healthz" && request.method === "GET") {
      sendJson(response, 200, { ok: true, provider: provider.name });
      return;
    }
    if (path.startsWith(MODEL_PROXY_PREFIX)) {
      await handleModelProxy(request, response, { targets, registry, liveness, maxBodyBytes: MAX_MODEL_PROXY_BODY_BYTES, logger });
      return;
    }
    if (path.startsWith(GIT_PATH_PREFIX)) {
      await handleGitHttp(request, response, { credentialSecret: config.gitCredentialSecret, ...gitDirs, logger });
      return;
    }
    if (path !== "/v1" && !path.startsWith("/v1/")) throw new LookoutError("NOT_FOUND");

    const body = await readBody(request, maxBodyBytes);
    await verifySignedRequest(
      { get: (name) => headerValue(request, name) },
      { method: request.method ?? "GET", pathAndQuery, body },
      { secrets: { [CONTROL_PLANE_SERVICE]: config.serviceSecret }, nonces },
    );
    if (path.startsWith("/v1/git/")) {
      const gitResult = await routeGit({ method: request.method ?? "GET", path, body }, gitDirs);
      sendJson(response, gitResult.status, gitResult.body);
      return;
    }
    const result = await routeV1(
      { method: request.method ?? "GET", path, body },
      { provider, registry, models: config.models, proxyBaseUrl, publicUrl, internalUrl, relays, egress, logger },
    );
    sendJson(response, result.status, result.body);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const { status, body, expected } = toErrorResponse(error);
      if (!expected)
        logger.error("request failed", { method: request.method, path: request.url?.split("?")[0], error: describeError(error) });
      if (response.headersSent) {
        response.destroy();
        return;
      }
      // Drain what the client is still sending so it sees our answer rather than a reset.
      request.resume();
      sendJson(response, status, body);
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
  internalUrl = `http://${config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host}:${port}`;
  publicUrl = (config.publicUrl ?? url).replace(/\/+$/, "");
  proxyBaseUrl = `${publicUrl}/model-proxy`;
  logger.info("sandbox gateway listening", { url, provider: provider.name });

  return {
    url,
    provider,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownsProvider) await provider.close();
      await relays.closeAll();
    },
  };
}

function headerValue(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}
