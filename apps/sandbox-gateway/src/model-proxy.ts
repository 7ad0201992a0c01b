import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { LookoutError, MODEL_PROXY_DROPPED_REQUEST_HEADERS, MODEL_PROXY_DROPPED_RESPONSE_HEADERS, sha256Hex } from "@lookout/protocol";
import { describeError, type Logger, type SandboxProvider, SandboxProviderError, type SandboxState } from "@lookout/sandbox";
import type { ProxyTarget } from "./model-providers";
import type { SandboxRecord, SandboxRegistry } from "./registry";

export const MODEL_PROXY_PREFIX = "/model-proxy/";

/** How long the model proxy trusts a remote provider's "running" (see `SandboxLiveness`). */
export const REMOTE_STATUS_TTL_MS = 15_000;

/**
 * Whether the sandbox behind a token still runs, for the model proxy: a stopped sandbox's token
 * must open nothing, though its record stays until the control plane terminates it.
 *
 * The local provider answers from its own process table, so it is asked on every request. A remote
 * provider's answer is a call to its vendor's API, too slow and too fallible to make for every model
 * request, so its "running" is trusted for `ttlMs`: a remote sandbox that stops by itself (its
 * timeout, a crash) keeps model access that long at most. Stops the gateway makes itself take
 * effect at once, through the registry: termination deletes the record, and a snapshot that stops
 * the sandbox marks it stopped.
 */
export class SandboxLiveness {
  /** providerId → when the provider last said it runs; remote providers only. */
  private readonly confirmedAtMs = new Map<string, number>();

  constructor(
    private readonly provider: Pick<SandboxProvider, "name" | "status">,
    private readonly ttlMs: number = REMOTE_STATUS_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves if the record's sandbox runs; otherwise throws `INVALID_TOKEN`, or `PROVIDER_TRANSIENT` if the provider cannot say now. */
  async assertRunning(record: SandboxRecord): Promise<void> {
    if (record.stoppedAtMs !== undefined) throw stopped(record, "stopped");
    const remote = this.provider.name !== "local";
    const confirmed = this.confirmedAtMs.get(record.providerId);
    if (remote && confirmed !== undefined && this.now() - confirmed < this.ttlMs) return;
    let state: SandboxState;
    try {
      state = await this.provider.status(record.providerId);
    } catch (error) {
      this.confirmedAtMs.delete(record.providerId);
      if (error instanceof SandboxProviderError && error.kind === "transient") {
        throw new LookoutError("PROVIDER_TRANSIENT", `Whether the sandbox ${record.sandboxId} still runs cannot be told now; retry.`);
      }
      throw stopped(record, error instanceof SandboxProviderError && error.reason === "not_found" ? "gone" : "unknown");
    }
    if (state !== "running" && state !== "starting") {
      this.confirmedAtMs.delete(record.providerId);
      throw stopped(record, state);
    }
    if (remote) this.remember(record.providerId);
  }

  private remember(providerId: string): void {
    const now = this.now();
    // Confirmations of sandboxes nobody asks about any more go, so the map stays as small as the live set.
    for (const [id, atMs] of this.confirmedAtMs) if (now - atMs >= this.ttlMs) this.confirmedAtMs.delete(id);
    this.confirmedAtMs.set(providerId, now);
  }
}

function stopped(record: SandboxRecord, state: string): LookoutError {
  return new LookoutError("INVALID_TOKEN", `The sandbox ${record.sandboxId} is ${state}; its token no longer reaches the model.`);
}

export interface ModelProxyOptions {
  readonly targets: ReadonlyMap<string, ProxyTarget>;
  readonly registry: SandboxRegistry;
  /** Asked whether the caller's sandbox still runs: a stopped sandbox's token opens nothing. */
  readonly liveness: SandboxLiveness;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
}

/** The sandbox token a request carries, in whichever header its SDK uses. */
function presentedToken(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers["x-api-key"];
  if (typeof apiKey === "string" && apiKey.length > 0) return apiKey;
  const authorization = headers.authorization;
  if (typeof authorization === "string" && /^Bearer\s+/i.test(authorization)) return authorization.replace(/^Bearer\s+/i, "");
  return undefined;
}

/**
 * `/model-proxy/<providerId>/<path>` → `<upstream base>/<path>` with the real key. The caller is
 * authenticated by its sandbox token (compared by sha256 against live sandboxes), and bodies flow
 * through in both directions without buffering so streamed completions arrive as they are made.
 */
export async function handleModelProxy(request: IncomingMessage, response: ServerResponse, options: ModelProxyOptions): Promise<void> {
  const url = new URL(request.url ?? "/", "http://gateway");
  const rest = url.pathname.slice(MODEL_PROXY_PREFIX.length);
  const slash = rest.indexOf("/");
  const providerId = slash === -1 ? rest : rest.slice(0, slash);
  const target = options.targets.get(providerId);
  if (!target) throw new LookoutError("NOT_FOUND", `The model proxy has no provider "${providerId}".`);

  const token = presentedToken(request.headers);
  if (!token) throw new LookoutError("INVALID_TOKEN", "Send the sandbox token as the API key.");
  const caller = options.registry.byToken(await sha256Hex(token));
  if (!caller) throw new LookoutError("INVALID_TOKEN", "The sandbox token is not one of a live sandbox.");
  // The record outlives its process until the control plane terminates it; the token must not.
  await options.liveness.assertRunning(caller);

  const declared = Number(request.headers["content-length"] ?? "0");
  if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
    throw new LookoutError("PAYLOAD_TOO_LARGE", `Model requests are limited to ${options.maxBodyBytes} bytes.`);
  }

  const upstream = new URL(`${target.upstreamBaseUrl.replace(/\/+$/, "")}/${slash === -1 ? "" : rest.slice(slash + 1)}${url.search}`);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !MODEL_PROXY_DROPPED_REQUEST_HEADERS.has(name)) headers[name] = value;
  }
  if (target.apiKey !== undefined) {
    if (target.auth === "x-api-key") headers["x-api-key"] = target.apiKey;
    else headers.authorization = `Bearer ${target.apiKey}`;
  }

  const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;
  await new Promise<void>((resolve) => {
    let forwarded = 0;
    const outgoing = send(upstream, { method: request.method, headers }, (incoming) => {
      const responseHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (value !== undefined && !MODEL_PROXY_DROPPED_RESPONSE_HEADERS.has(name)) responseHeaders[name] = value;
      }
      response.writeHead(incoming.statusCode ?? 502, responseHeaders);
      // Streamed completions must reach the sandbox chunk by chunk.
      response.flushHeaders();
      incoming.pipe(response);
      incoming.on("end", resolve);
      incoming.on("error", () => {
        response.destroy();
        resolve();
      });
    });
    outgoing.on("error", (error) => {
      options.logger.warn("model proxy upstream failed", { providerId, sandboxId: caller.sandboxId, error: describeError(error) });
      if (!response.headersSent) {
        const body = new LookoutError("PROVIDER_TRANSIENT", "The model API could not be reached.").toBody();
        response.writeHead(502, { "content-type": "application/json" });
        response.end(JSON.stringify(body));
      } else {
        response.destroy();
      }
      resolve();
    });
    request.on("data", (chunk: Buffer) => {
      forwarded += chunk.byteLength;
      if (forwarded > options.maxBodyBytes) {
        outgoing.destroy(new Error("request body over the model proxy limit"));
        request.destroy();
      }
    });
    request.pipe(outgoing);
    // If the sandbox hangs up, stop the upstream request too (it may be a long generation).
    response.on("close", () => {
      if (!response.writableFinished) outgoing.destroy();
    });
  });
  options.logger.debug("model proxy request", { providerId, sandboxId: caller.sandboxId, method: request.method, path: upstream.pathname });
}
