import { type ModelCompleteRequest, LookoutError, ModelCompleteResponse } from "@lookout/protocol";
import type { Env } from "./env";
import { type GatewayEndpoint, signedGatewayCall } from "./gateway-call";
import { gatewayFetcher } from "./gateway-container";

/**
 * The sandbox gateway's model access for the control plane (`POST /v1/model/complete`, signed like
 * the rest of `/v1`). The control plane holds no model key: the gateway picks its small model and
 * calls the provider. The gateway's registry errors come back as the same `LookoutError`s.
 */
export class GatewayModel {
  private readonly endpoint: GatewayEndpoint;

  constructor(baseUrl: string, secret: string | undefined, fetcher: typeof fetch) {
    this.endpoint = { baseUrl, secret, fetcher };
  }

  static fromEnv(env: Pick<Env, "GATEWAY_URL" | "GATEWAY_SERVICE_SECRET" | "GATEWAY" | "GATEWAY_CONTAINER">): GatewayModel {
    return new GatewayModel(env.GATEWAY_URL, env.GATEWAY_SERVICE_SECRET, gatewayFetcher(env));
  }

  /**
   * One short completion; `signal` ends the wait (the caller's time budget), and the gateway drops
   * the provider's call when it does. No limit of its own: the gateway bounds the provider's call.
   */
  async complete(request: ModelCompleteRequest, signal?: AbortSignal): Promise<ModelCompleteResponse> {
    const data = await signedGatewayCall(this.endpoint, {
      method: "POST",
      path: "/v1/model/complete",
      body: request,
      unconfigured: "the gateway's model cannot be asked",
      otherwise: "INTERNAL",
      timeoutMs: null,
      ...(signal ? { abandon: { signal, code: "MODEL_TIMEOUT", message: "The gateway's model did not answer in time." } } : {}),
      omitUrl: true,
    });
    const parsed = ModelCompleteResponse.safeParse(data);
    if (!parsed.success) throw new LookoutError("MODEL_OUTPUT_INVALID", "The gateway's completion answer has the wrong shape.");
    return parsed.data;
  }
}
