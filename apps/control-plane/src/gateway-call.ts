import { ErrorBody, type ErrorCode, LookoutError, signRequest } from "@lookout/protocol";

/** How long one signed call to the gateway's `/v1` may take, unless its client says otherwise. */
const GATEWAY_TIMEOUT_MS = 10_000;

/** Where the gateway is and how the control plane signs for it. */
export interface GatewayEndpoint {
  readonly baseUrl: string;
  /** `GATEWAY_SERVICE_SECRET`; a call without it fails closed. */
  readonly secret: string | undefined;
  readonly fetcher: typeof fetch;
}

/** One call to the gateway's `/v1` and what its failures mean to the client making it. */
export interface GatewayCall {
  method: string;
  path: string;
  /** Sent as JSON; `undefined` sends no body. */
  body: unknown;
  /** What cannot happen without the secret: `GATEWAY_SERVICE_SECRET is not set, so ${unconfigured}.` */
  unconfigured: string;
  /** The code of a refusal that carries no registry error. */
  otherwise: ErrorCode;
  /** Statuses answered with null instead of an error. */
  absentOn?: readonly number[];
  /** The call's own limit; null for none (a git merge takes as long as the repository needs). */
  timeoutMs?: number | null;
  /** The caller's deadline on top of the call's own: when it ends the wait, `code` and `message` are thrown. */
  abandon?: { signal: AbortSignal; code: ErrorCode; message: string };
  /** Leaves the gateway's URL out of the unreachable message. */
  omitUrl?: boolean;
}

/**
 * One signed JSON call to the gateway's `/v1` (service `control-plane`), shared by every client of
 * it: fails closed without the secret (`SERVICE_NOT_CONFIGURED`), gives an unreachable gateway
 * `SANDBOX_UNAVAILABLE`, answers null for a status in `absentOn`, passes the gateway's own registry
 * error on, and otherwise throws `otherwise` with the status.
 */
export async function signedGatewayCall(endpoint: GatewayEndpoint, call: GatewayCall): Promise<unknown> {
  const { method, path, body } = call;
  if (!endpoint.secret) throw new LookoutError("SERVICE_NOT_CONFIGURED", `GATEWAY_SERVICE_SECRET is not set, so ${call.unconfigured}.`);
  const payload = body === undefined ? "" : JSON.stringify(body);
  const headers = await signRequest({ service: "control-plane", method, pathAndQuery: path, body: payload }, endpoint.secret);
  const signal = deadline(call);
  let response: Response;
  try {
    response = await endpoint.fetcher(new URL(path, endpoint.baseUrl), {
      method,
      headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
      ...(payload ? { body: payload } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (call.abandon?.signal.aborted) throw new LookoutError(call.abandon.code, call.abandon.message);
    const gateway = call.omitUrl ? "The sandbox gateway" : `The sandbox gateway at ${endpoint.baseUrl}`;
    throw new LookoutError("SANDBOX_UNAVAILABLE", `${gateway} is unreachable: ${String(error)}`);
  }
  if (call.absentOn?.includes(response.status)) return null;
  const data: unknown = await response.json().catch(() => null);
  if (response.ok) return data;
  const refusal = ErrorBody.safeParse(data);
  if (refusal.success) throw new LookoutError(refusal.data.error.code, refusal.data.error.message, refusal.data.error.details);
  throw new LookoutError(call.otherwise, `The gateway answered ${response.status}.`);
}

/** The call's own timeout combined with the caller's deadline; undefined when neither applies. */
function deadline(call: GatewayCall): AbortSignal | undefined {
  const own = call.timeoutMs === null ? [] : [AbortSignal.timeout(call.timeoutMs ?? GATEWAY_TIMEOUT_MS)];
  const signals = call.abandon ? [call.abandon.signal, ...own] : own;
  return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
}
