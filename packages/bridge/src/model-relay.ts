import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import {
  LookoutError,
  MODEL_PROXY_DROPPED_REQUEST_HEADERS,
  MODEL_PROXY_DROPPED_RESPONSE_HEADERS,
  SANDBOX_TOKEN_API_KEY,
  type ModelProviderConfig,
} from "@lookout/protocol";
import { errorMessage, type Logger } from "./logger";

/**
 * Model calls that need the sandbox token, relayed by the bridge.
 *
 * The gateway's model proxy takes the sandbox token as the API key of the providers whose real
 * key stays outside the sandbox. OpenCode is the agent, so whatever key it is configured with the
 * agent can read (its environment carries the config). The bridge therefore configures those
 * providers with this loopback relay and a key made for this start, and the relay forwards each
 * call to the proxy with the token added. The agent can make model calls, as it always could, but
 * never holds the token.
 */

export interface ModelRelay {
  /** The providers as OpenCode is to see them: relayed ones point at the relay with its key. */
  providers: ModelProviderConfig[];
  close(): Promise<void>;
}

/** Whether a provider's key is the sandbox token (spelled out, or as `SANDBOX_TOKEN_API_KEY`). */
export function usesSandboxToken(provider: ModelProviderConfig, sandboxToken: string): boolean {
  return provider.apiKey === SANDBOX_TOKEN_API_KEY || provider.apiKey === sandboxToken;
}

/**
 * Starts the relay on a free loopback port if any provider uses the sandbox token; otherwise
 * returns the providers unchanged and listens on nothing.
 */
export async function startModelRelay(options: {
  providers: readonly ModelProviderConfig[];
  /** The token, or where to read it per call (a warm-pool sandbox gets its session's token at the claim). */
  sandboxToken: string | (() => string);
  logger: Logger;
}): Promise<ModelRelay> {
  const token = options.sandboxToken;
  const currentToken = typeof token === "string" ? () => token : token;
  const targets = new Map<string, string>();
  for (const provider of options.providers) {
    if (!usesSandboxToken(provider, currentToken())) continue;
    if (!provider.baseUrl || !/^https?:\/\//.test(provider.baseUrl)) {
      throw new Error(`Model provider "${provider.id}" authenticates with the sandbox token but has no http(s) baseUrl to send it to.`);
    }
    targets.set(provider.id, provider.baseUrl.replace(/\/+$/, ""));
  }
  if (targets.size === 0) return { providers: [...options.providers], close: async () => {} };

  const key = randomBytes(24).toString("base64url");
  const server = createServer((request, response) => {
    relay(request, response, { targets, key, sandboxToken: currentToken() }).catch((error: unknown) => {
      options.logger.warn("model relay failed", { error: errorMessage(error) });
      if (!response.headersSent)
        sendError(response, new LookoutError("PROVIDER_TRANSIENT", "The model relay could not reach the model proxy."));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  options.logger.info("model relay listening", { port, providers: [...targets.keys()] });
  return {
    providers: options.providers.map((provider) =>
      targets.has(provider.id) ? { ...provider, baseUrl: `http://127.0.0.1:${port}/${provider.id}`, apiKey: key } : provider,
    ),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The key a request carries, in whichever header its SDK uses. */
function presentedKey(headers: IncomingHttpHeaders): { key: string; header: "x-api-key" | "authorization" } | undefined {
  const apiKey = headers["x-api-key"];
  if (typeof apiKey === "string" && apiKey.length > 0) return { key: apiKey, header: "x-api-key" };
  const authorization = headers.authorization;
  if (typeof authorization === "string" && /^Bearer\s+/i.test(authorization))
    return { key: authorization.replace(/^Bearer\s+/i, ""), header: "authorization" };
  return undefined;
}

async function relay(
  request: IncomingMessage,
  response: ServerResponse,
  context: { targets: ReadonlyMap<string, string>; key: string; sandboxToken: string },
): Promise<void> {
  const url = new URL(request.url ?? "/", "http://relay");
  const [, providerId = "", ...rest] = url.pathname.split("/");
  const target = context.targets.get(providerId);
  if (!target) {
    request.resume();
    return sendError(response, new LookoutError("NOT_FOUND", `The model relay has no provider "${providerId}".`));
  }
  const presented = presentedKey(request.headers);
  const expected = Buffer.from(context.key);
  const given = Buffer.from(presented?.key ?? "");
  if (!presented || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    request.resume();
    return sendError(response, new LookoutError("INVALID_TOKEN", "Send the relay's key as the API key."));
  }

  const upstream = new URL(`${target}/${rest.join("/")}${url.search}`);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !MODEL_PROXY_DROPPED_REQUEST_HEADERS.has(name)) headers[name] = value;
  }
  // The proxy reads the token from either header; answer in the one the SDK chose.
  if (presented.header === "x-api-key") headers["x-api-key"] = context.sandboxToken;
  else headers.authorization = `Bearer ${context.sandboxToken}`;

  const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;
  await new Promise<void>((resolve, reject) => {
    const outgoing = send(upstream, { method: request.method, headers }, (incoming) => {
      const responseHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (value !== undefined && !MODEL_PROXY_DROPPED_RESPONSE_HEADERS.has(name)) responseHeaders[name] = value;
      }
      response.writeHead(incoming.statusCode ?? 502, responseHeaders);
      // Streamed completions arrive as they are made: nothing is buffered.
      incoming.pipe(response);
      incoming.once("end", () => resolve());
      incoming.once("error", reject);
    });
    outgoing.once("error", reject);
    // A caller that goes away stops the upstream call too.
    response.once("close", () => {
      if (!response.writableFinished) outgoing.destroy();
    });
    request.pipe(outgoing);
  });
}

/** Refusals carry the registry's `{ error: { code, message } }` body and status, like every Lookout service. */
function sendError(response: ServerResponse, error: LookoutError): void {
  const text = JSON.stringify(error.toBody());
  response.writeHead(error.status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}
