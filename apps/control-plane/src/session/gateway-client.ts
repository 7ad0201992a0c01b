import {
  type CreateSandboxRequest,
  type ErrorBody,
  isErrorCode,
  LookoutError,
  SandboxInfo,
  signRequest,
  SnapshotResponse,
} from "@lookout/protocol";
import type { z } from "zod";

/** Calls the sandbox gateway with signed requests (service `control-plane`). */
export interface SandboxGateway {
  create(request: CreateSandboxRequest): Promise<z.infer<typeof SandboxInfo>>;
  snapshot(sandboxId: string): Promise<string>;
  terminate(sandboxId: string): Promise<void>;
}

/** A gateway failure, classified by the gateway's error code so callers can retry the transient ones. */
export class GatewayError extends Error {
  constructor(
    readonly transient: boolean,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

const TRANSIENT_CODES = new Set(["PROVIDER_TRANSIENT", "SANDBOX_UNAVAILABLE", "RATE_LIMITED", "INTERNAL"]);

export class HttpSandboxGateway implements SandboxGateway {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string | undefined,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  async create(request: CreateSandboxRequest): Promise<z.infer<typeof SandboxInfo>> {
    return SandboxInfo.parse(await this.call("POST", "/v1/sandboxes", request));
  }

  async snapshot(sandboxId: string): Promise<string> {
    return SnapshotResponse.parse(await this.call("POST", `/v1/sandboxes/${encodeURIComponent(sandboxId)}/snapshot`, {})).snapshotId;
  }

  async terminate(sandboxId: string): Promise<void> {
    await this.call("DELETE", `/v1/sandboxes/${encodeURIComponent(sandboxId)}`, undefined);
  }

  private async call(method: string, path: string, body: unknown): Promise<unknown> {
    if (!this.secret)
      throw new LookoutError("SERVICE_NOT_CONFIGURED", "GATEWAY_SERVICE_SECRET is not set, so sandboxes cannot be started.");
    const payload = body === undefined ? "" : JSON.stringify(body);
    const headers = await signRequest({ service: "control-plane", method, pathAndQuery: path, body: payload }, this.secret);
    let response: Response;
    try {
      response = await this.fetcher(new URL(path, this.baseUrl), {
        method,
        headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
        ...(payload ? { body: payload } : {}),
      });
    } catch (error) {
      throw new GatewayError(true, "GATEWAY_UNREACHABLE", `The sandbox gateway at ${this.baseUrl} is unreachable: ${String(error)}`);
    }
    const text = await response.text();
    const data: unknown = text ? safeJson(text) : null;
    if (response.ok) return data;
    const error = errorOf(data);
    const code = error?.code ?? `HTTP_${response.status}`;
    const transient = TRANSIENT_CODES.has(code) || response.status >= 500 || response.status === 429;
    throw new GatewayError(transient && code !== "PROVIDER_PERMANENT", code, error?.message ?? `The gateway answered ${response.status}.`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorOf(data: unknown): ErrorBody["error"] | null {
  if (typeof data !== "object" || data === null || !("error" in data)) return null;
  const error = data.error;
  if (typeof error !== "object" || error === null) return null;
  const code = (error as { code?: unknown }).code;
  const message = (error as { message?: unknown }).message;
  return isErrorCode(code) && typeof message === "string" ? { code, message } : null;
}
