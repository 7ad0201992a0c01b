import { type CreateSandboxRequest, LookoutError, SandboxInfo, SnapshotResponse } from "@lookout/protocol";
import type { z } from "zod";
import { signedGatewayCall } from "../gateway-call";

/** Calls the sandbox gateway with signed requests (service `control-plane`). */
export interface SandboxGateway {
  create(request: CreateSandboxRequest): Promise<z.infer<typeof SandboxInfo>>;
  snapshot(sandboxId: string): Promise<string>;
  terminate(sandboxId: string): Promise<void>;
  /** Deletes a snapshot from the provider; one it no longer has counts as deleted. */
  deleteSnapshot(snapshotId: string): Promise<void>;
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

/**
 * What `signedGatewayCall` names a refusal that carries no registry error; never a code the gateway
 * sends (the registry keeps it for stored rows), so here it can only mean such a refusal.
 */
const NO_REGISTRY_ERROR = "UNKNOWN";

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

  /** The gateway's snapshot deletion (shared with repository images); `CONFLICT` while a sandbox still uses it. */
  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.call("DELETE", `/v1/images/snapshots/${encodeURIComponent(snapshotId)}`, undefined);
  }

  /** One signed call with no limit of its own (a sandbox takes as long as its provider needs to start). */
  private async call(method: string, path: string, body: unknown): Promise<unknown> {
    // The classification reads the status the gateway answered, which a refusal without a registry
    // error carries only in its words.
    let status: number | undefined;
    const fetcher: typeof fetch = async (input, init) => {
      const response = await this.fetcher(input, init);
      status = response.status;
      return response;
    };
    try {
      return await signedGatewayCall(
        { baseUrl: this.baseUrl, secret: this.secret, fetcher },
        { method, path, body, unconfigured: "sandboxes cannot be started", otherwise: NO_REGISTRY_ERROR, timeoutMs: null },
      );
    } catch (error) {
      throw error instanceof LookoutError ? gatewayError(error, status) : error;
    }
  }
}

/**
 * The session's side of a failed call: with no answer, a missing secret is permanent and an
 * unreachable gateway transient (`GATEWAY_UNREACHABLE`); an answer is transient by its code or
 * status (5xx, 429), except `PROVIDER_PERMANENT`, and without a registry error is named `HTTP_<status>`.
 */
function gatewayError(error: LookoutError, status: number | undefined): GatewayError {
  if (status === undefined) {
    return error.code === "SERVICE_NOT_CONFIGURED"
      ? new GatewayError(false, error.code, error.message)
      : new GatewayError(true, "GATEWAY_UNREACHABLE", error.message);
  }
  const code = error.code === NO_REGISTRY_ERROR ? `HTTP_${status}` : error.code;
  const transient = TRANSIENT_CODES.has(code) || status >= 500 || status === 429;
  return new GatewayError(transient && code !== "PROVIDER_PERMANENT", code, error.message);
}
