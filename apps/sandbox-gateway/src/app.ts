import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { LookoutError, verifySignedRequest, type NonceStore } from "@lookout/protocol";
import { describeError, type Logger, type SandboxProvider } from "@lookout/sandbox";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { GIT_PATH_PREFIX, handleGitHttp, type GitHttpContext } from "./git/http-backend";
import type { GitEnvironment } from "./git/repo-ops";
import { gitRoutes } from "./git/routes";
import { type GatewayEnv, jsonResponse, toErrorResponse } from "./http";
import { modelCompleteRoutes } from "./model-complete";
import { IMAGE_BUILD_PREFIX, type ImageBuilds } from "./images/builds";
import { imageBuildChannelRoutes, imageRoutes } from "./images/routes";
import { handleModelProxy, MODEL_PROXY_PREFIX, type ModelProxyOptions } from "./model-proxy";
import { poolBridgeRoutes } from "./pool/bridge-routes";
import type { WarmPool } from "./pool/pool";
import { POOL_BRIDGE_PREFIX } from "./pool/pool-sandbox";
import { poolRoutes } from "./pool/routes";
import { sandboxRoutes, type RouteContext } from "./routes";

/** The service allowed to call `/v1`, and the env var holding its secret. */
export const CONTROL_PLANE_SERVICE = "control-plane";

export interface GatewayAppOptions {
  readonly provider: SandboxProvider;
  /** What the `/v1` sandbox routes work with, asked per request (the gateway's URLs come with listening). */
  readonly routeContext: () => RouteContext;
  readonly modelProxy: ModelProxyOptions;
  /** Git's smart HTTP for sandboxes; its `hooksDir`, `gitHome` and `roots` also serve `/v1/git`. */
  readonly git: GitHttpContext & GitEnvironment;
  /** The control plane's shared secret; without it every `/v1` request is refused. */
  readonly serviceSecret: string | undefined;
  readonly nonces: NonceStore;
  /** The largest `/v1` body accepted. */
  readonly maxBodyBytes: number;
  /** The warm pool (`/v1/pool` and the pool sandboxes' channel). */
  readonly pool: WarmPool;
  /** Repository image builds (`/v1/images` and the build sandboxes' channel). */
  readonly images: ImageBuilds;
  readonly logger: Logger;
}

/**
 * The gateway's HTTP surface:
 *
 * - `GET /healthz`, unauthenticated;
 * - `/model-proxy/<provider>/…`, authenticated by a live sandbox's token;
 * - `/git/<session>.git/…`, git's smart HTTP, authenticated by a git credential;
 * - `/pool-bridge/<pool sandbox>/…`, a warm-pool sandbox's channel, authenticated by its pool token;
 * - `/image-build/<build sandbox>/…`, an image build's channel, authenticated by its build token;
 * - `/v1/…`, the control plane's API, every request signed (`service-auth.ts`), unknown ones included.
 *
 * Every error becomes a registry code through one `onError`; no answer carries a stack.
 */
export function createGatewayApp(options: GatewayAppOptions): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.get("/healthz", () => jsonResponse(200, { ok: true, provider: options.provider.name }));

  // Model answers and git's packs stream both ways, so these two work on Node's own request and
  // response and answer there; hono only routes to them.
  app.all(`${MODEL_PROXY_PREFIX}:rest{.*}`, async (c) => {
    await handleModelProxy(c.env.incoming, c.env.outgoing, options.modelProxy);
    return RESPONSE_ALREADY_SENT;
  });
  app.all(`${GIT_PATH_PREFIX}:rest{.*}`, async (c) => {
    await handleGitHttp(c.env.incoming, c.env.outgoing, options.git);
    return RESPONSE_ALREADY_SENT;
  });

  app.route(
    POOL_BRIDGE_PREFIX.replace(/\/$/, ""),
    poolBridgeRoutes(() => options.pool, options.git.credentialSecret),
  );

  app.route(
    IMAGE_BUILD_PREFIX.replace(/\/$/, ""),
    imageBuildChannelRoutes(() => options.images, options.git.credentialSecret),
  );

  const tooLarge = () => new LookoutError("PAYLOAD_TOO_LARGE", `Request bodies are limited to ${options.maxBodyBytes} bytes.`);
  const v1 = new Hono<GatewayEnv>()
    .use(
      refuseDeclaredOversize(options.maxBodyBytes, tooLarge),
      bodyLimit({
        maxSize: options.maxBodyBytes,
        onError: () => {
          throw tooLarge();
        },
      }),
      verifyControlPlane(options),
    )
    .route("/git", gitRoutes(options.git))
    .route(
      "/pool",
      poolRoutes(() => options.pool),
    )
    .route(
      "/images",
      imageRoutes(() => options.images),
    )
    .route(
      "/model",
      modelCompleteRoutes(() => options.routeContext()),
    )
    .route("/", sandboxRoutes(options.routeContext));
  app.route("/v1", v1);

  app.notFound((c) => {
    const path = c.req.path;
    const error =
      path === "/v1" || path.startsWith("/v1/")
        ? new LookoutError("NOT_FOUND", `No route for ${c.req.method} ${path}.`)
        : new LookoutError("NOT_FOUND");
    return errorResponse(error, c, options.logger);
  });
  app.onError((error, c) => errorResponse(error, c, options.logger));
  return app;
}

/**
 * Refuses a body whose declared length is over the limit before anything opens it. hono's
 * `bodyLimit` checks the declared length too, but only after opening the body as a web stream, and
 * the rest of a body opened that way is never drained: the client's kept-alive connection would
 * break under its next request. `bodyLimit` then bounds bodies sent without a length (chunked).
 */
function refuseDeclaredOversize(maxBytes: number, tooLarge: () => LookoutError): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const declared = Number(c.req.header("content-length") ?? "0");
    if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
    await next();
  };
}

/**
 * Verifies a `/v1` request's service signature over its exact method, path, query and body bytes,
 * then hands the body on to the route. Runs for every `/v1` path, so an unsigned caller learns
 * nothing about which routes exist.
 */
function verifyControlPlane(options: Pick<GatewayAppOptions, "serviceSecret" | "nonces">): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    await verifySignedRequest(
      { get: (name) => c.req.header(name) ?? null },
      // The raw request target: the signature covers what was sent, before any decoding.
      { method: c.req.method, pathAndQuery: c.env.incoming.url ?? "/", body },
      { secrets: { [CONTROL_PLANE_SERVICE]: options.serviceSecret }, nonces: options.nonces },
    );
    c.set("body", body);
    await next();
  };
}

function errorResponse(error: unknown, c: Context<GatewayEnv>, logger: Logger): Response {
  const { status, body, expected } = toErrorResponse(error);
  if (!expected) logger.error("request failed", { method: c.req.method, path: c.req.path, error: describeError(error) });
  // A streaming route that fails after its answer began can only cut the answer off.
  if (c.env.outgoing.headersSent) {
    c.env.outgoing.destroy();
    return RESPONSE_ALREADY_SENT;
  }
  // A body abandoned half-read (a chunked upload over the limit) cannot be drained, so the
  // connection closes after this answer instead of failing under the client's next request.
  const abandoned = c.env.incoming.readableDidRead && !c.env.incoming.complete;
  return jsonResponse(status, body, abandoned ? { connection: "close" } : {});
}
