import { ErrorBody, LookoutError, type ModelCompleteRequest, ModelCompleteResponse, signRequest } from "@lookout/protocol";
import type { Env } from "./env";
import { gatewayFetcher } from "./gateway-container";

const COMPLETE_PATH = "/v1/model/complete";

/**
 * The sandbox gateway's model access for the control plane (`POST /v1/model/complete`, signed like
 * the rest of `/v1`). The control plane holds no model key: the gateway picks its small model and
 * calls the provider. The gateway's registry errors come back as the same `LookoutError`s.
 */
export class GatewayModel {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string | undefined,
    private readonly fetcher: typeof fetch,
  ) {}

  static fromEnv(env: Pick<Env, "GATEWAY_URL" | "GATEWAY_SERVICE_SECRET" | "GATEWAY" | "GATEWAY_CONTAINER">): GatewayModel {
    return new GatewayModel(env.GATEWAY_URL, env.GATEWAY_SERVICE_SECRET, gatewayFetcher(env));
  }

  /** One short completion; `signal` ends the wait (the caller's time budget). */
  async complete(request: ModelCompleteRequest, signal?: AbortSignal): Promise<ModelCompleteResponse> {
    if (!this.secret)
      throw new LookoutError("SERVICE_NOT_CONFIGURED", "GATEWAY_SERVICE_SECRET is not set, so the gateway's model cannot be asked.");
    const payload = JSON.stringify(request);
    const headers = await signRequest(
      { service: "control-plane", method: "POST", pathAndQuery: COMPLETE_PATH, body: payload },
      this.secret,
    );
    let response: Response;
    let data: unknown;
    try {
      response = await this.fetcher(new URL(COMPLETE_PATH, this.baseUrl), {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: payload,
        ...(signal ? { signal } : {}),
      });
      data = await response.json().catch(() => null);
    } catch (error) {
      if (signal?.aborted) throw new LookoutError("MODEL_TIMEOUT", "The gateway's model did not answer in time.");
      throw new LookoutError("SANDBOX_UNAVAILABLE", `The sandbox gateway is unreachable: ${String(error)}`);
    }
    if (response.ok) {
      const parsed = ModelCompleteResponse.safeParse(data);
      if (!parsed.success) throw new LookoutError("MODEL_OUTPUT_INVALID", "The gateway's completion answer has the wrong shape.");
      return parsed.data;
    }
    const failure = ErrorBody.safeParse(data);
    if (failure.success) throw new LookoutError(failure.data.error.code, failure.data.error.message, failure.data.error.details);
    throw new LookoutError("INTERNAL", `The gateway answered ${response.status}.`);
  }
}
