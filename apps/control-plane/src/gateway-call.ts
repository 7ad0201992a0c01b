import { ErrorBody, type ErrorCode, LookoutError, signRequest } from "@lookout/protocol";

/** How long one signed call to the gateway's `/v1` may take. */
const GATEWAY_TIMEOUT_MS = 10_000;

/** Where the gateway is and how the control plane signs for it. */
export interface GatewayEndpoint {
  readonly baseUrl: string;
  /** `GATEWAY_SERVICE_SECRET`; a call without it fails closed. */
  readonly secret: string | undefined;
  readonly fetcher: typeof fetch;
}

/**
 * One signed JSON call to the gateway's `/v1` (service `control-plane`), shared by the image and
 * warm-pool clients: fails closed without the secret (`SERVICE_NOT_CONFIGURED`, saying what cannot
 * happen: `unconfigured`), gives an unreachable gateway `SANDBOX_UNAVAILABLE`, answers null for a
 * status in `absentOn`, passes the gateway's own registry error on, and otherwise throws
 * `otherwise` with the status.
 */
export async function signedGatewayCall(
  endpoint: GatewayEndpoint,
  call: {
    method: string;
    path: string;
    body: unknown;
    unconfigured: string;
    otherwise: ErrorCode;
    absentOn?: readonly number[];
  },
): Promise<unknown> {
  const { method, path, body } = call;
  if (!endpoint.secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", `GATEWAY_SERVICE_SECRET is not set, so ${call.unconfigured}.`);
  const payload = body === undefined ? "" : JSON.stringify(body);
  const headers = await signRequest({ service: "control-plane", method, pathAndQuery: path, body: payload }, endpoint.secret);
  let response: Response;
  try {
    response = await endpoint.fetcher(new URL(path, endpoint.baseUrl), {
      method,
      headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
      ...(payload ? { body: payload } : {}),
      signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS),
    });
  } catch (error) {
    throw new LookoutError("SANDBOX_UNAVAILABLE", `The sandbox gateway at ${endpoint.baseUrl} is unreachable: ${String(error)}`);
  }
  if (call.absentOn?.includes(response.status)) return null;
  const data: unknown = await response.json().catch(() => null);
  if (response.ok) return data;
  const refusal = ErrorBody.safeParse(data);
  if (refusal.success) throw new LookoutError(refusal.data.error.code, refusal.data.error.message);
  throw new LookoutError(call.otherwise, `The gateway answered ${response.status}.`);
}
