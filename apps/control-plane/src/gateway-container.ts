import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";

/** The port the gateway listens on inside its container (`infra/gateway/Dockerfile`). */
export const GATEWAY_CONTAINER_PORT = 8788;
/** Every Worker reaches the same gateway instance: sandboxes it created are in its registry. */
const GATEWAY_INSTANCE = "gateway";
/** How long a cold container gets to answer `/healthz` before the request fails. */
const GATEWAY_START_TIMEOUT_MS = 60_000;
const GATEWAY_START_POLL_MS = 250;
/**
 * Where sandboxes reach the gateway container through this Worker: `${PUBLIC_URL}/gateway/…` is
 * the container's `/…` (the model proxy, which checks each sandbox's own token).
 */
export const GATEWAY_PUBLIC_PREFIX = "/gateway";
/** Worker secrets named `GATEWAY_ENV_<NAME>` reach the container as `<NAME>` (provider and model keys). */
const PASS_THROUGH_PREFIX = "GATEWAY_ENV_";

/**
 * The sandbox gateway as a Cloudflare Container (`[[containers]]` in the deployed environments of
 * `wrangler.toml`). This object starts the container with the gateway's configuration taken from the
 * Worker's secrets, waits until it answers, and forwards requests to it.
 */
export class GatewayContainer extends DurableObject<Env> {
  override async fetch(request: Request): Promise<Response> {
    const container = this.ctx.container;
    if (!container) return new Response("This Durable Object has no container; check [[containers]] in wrangler.toml.", { status: 503 });
    const port = container.getTcpPort(GATEWAY_CONTAINER_PORT);
    if (!container.running) {
      container.start({ env: gatewayContainerEnv(this.env), enableInternet: true });
      await waitUntilHealthy(port);
    }
    return port.fetch(request);
  }
}

/** The gateway's environment inside its container, from the Worker's own configuration. */
export function gatewayContainerEnv(env: Env): Record<string, string> {
  const values: Record<string, string | undefined> = {
    LOOKOUT_ENVIRONMENT: env.LOOKOUT_ENVIRONMENT,
    LOOKOUT_SERVICE_SECRET_CONTROL_PLANE: env.GATEWAY_SERVICE_SECRET,
    LOOKOUT_GIT_CREDENTIAL_SECRET: env.GIT_CREDENTIAL_SECRET,
    LOOKOUT_GATEWAY_PUBLIC_URL: env.GATEWAY_PUBLIC_URL,
  };
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(PASS_THROUGH_PREFIX) && typeof value === "string") values[name.slice(PASS_THROUGH_PREFIX.length)] = value;
  }
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

async function waitUntilHealthy(port: Fetcher): Promise<void> {
  const deadline = Date.now() + GATEWAY_START_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await port.fetch(`http://gateway/healthz`);
      if (response.ok) return;
      lastError = new Error(`/healthz answered ${response.status}`);
    } catch (error) {
      // Connection refused until the gateway listens.
      lastError = error;
    }
    await scheduler.wait(GATEWAY_START_POLL_MS);
  }
  throw new Error(`The gateway container did not become healthy within ${GATEWAY_START_TIMEOUT_MS} ms`, { cause: lastError });
}

/**
 * How the Worker reaches the gateway: a `GATEWAY` service binding, else the `GATEWAY_CONTAINER`,
 * else the public internet at `GATEWAY_URL`.
 */
export function gatewayFetcher(env: Pick<Env, "GATEWAY" | "GATEWAY_CONTAINER">): typeof fetch {
  const binding = env.GATEWAY;
  if (binding) return (input, init) => binding.fetch(input, init);
  const containers = env.GATEWAY_CONTAINER;
  if (containers) return (input, init) => containers.get(containers.idFromName(GATEWAY_INSTANCE)).fetch(new Request(input, init));
  return (input, init) => fetch(input, init);
}

/**
 * Forwards a sandbox's request under `/gateway/` to the gateway container, or null when the request
 * is not one or there is no container (a gateway on its own host has its own public URL).
 */
export function forwardToGatewayContainer(request: Request, env: Pick<Env, "GATEWAY_CONTAINER">): Promise<Response> | null {
  const url = new URL(request.url);
  if (!env.GATEWAY_CONTAINER || !url.pathname.startsWith(`${GATEWAY_PUBLIC_PREFIX}/`)) return null;
  url.pathname = url.pathname.slice(GATEWAY_PUBLIC_PREFIX.length);
  return gatewayFetcher(env)(new Request(url, request));
}
