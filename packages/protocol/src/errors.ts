/**
 * The one registry of error codes shared by every process: the Worker's REST routes, the session
 * WebSocket hub, the sandbox gateway and the bridge. Each code has an HTTP status and a message that
 * says what happened and how to fix it; clients see `{ error: { code, message } }`, never a stack.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, message: "The request is malformed." },
  INVALID_JSON: { status: 400, message: "The body is not valid JSON. Send a JSON object." },
  INVALID_FRAME: {
    status: 400,
    message: "The WebSocket frame does not match the protocol. Check its `type` and fields.",
  },
  UNKNOWN_MESSAGE_TYPE: {
    status: 400,
    message: "The frame's `type` is not one this endpoint understands.",
  },
  FRAME_TOO_LARGE: { status: 413, message: "The frame is larger than the limit; send less data." },
  PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is larger than the limit." },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: "Send the body as JSON with `Content-Type: application/json`, or send no body at all.",
  },
  VALIDATION_FAILED: { status: 422, message: "Some fields are invalid." },
  UNAUTHENTICATED: {
    status: 401,
    message: "Sign in first: open the login URL printed by the start command.",
  },
  INVALID_TOKEN: { status: 401, message: "The token is invalid or expired. Request a new one." },
  INVALID_SIGNATURE: { status: 401, message: "The request signature does not verify." },
  STALE_REQUEST: {
    status: 401,
    message: "The request timestamp is outside the accepted window; check the caller's clock.",
  },
  REPLAYED_REQUEST: { status: 401, message: "This request nonce was already used." },
  FORBIDDEN: { status: 403, message: "You are not allowed to do this." },
  FORBIDDEN_ORIGIN: {
    status: 403,
    message: "This request came from a page on another origin; open Lookout at its own address (PUBLIC_URL) and try again there.",
  },
  NOT_FOUND: { status: 404, message: "Nothing exists at this address." },
  SESSION_NOT_FOUND: { status: 404, message: "No session has this id." },
  REPOSITORY_NOT_FOUND: { status: 404, message: "No repository has this id; register it first." },
  PROMPT_NOT_FOUND: { status: 404, message: "No pending prompt has this id." },
  SECRET_NOT_FOUND: { status: 404, message: "No secret has this name in this scope." },
  CONFLICT: { status: 409, message: "The request conflicts with the current state." },
  PROMPT_REQUEST_CONFLICT: {
    status: 409,
    message: "This request id was already used for a different prompt; use a new request id.",
  },
  PROMPT_NOT_CANCELLABLE: {
    status: 409,
    message: "Only pending prompts can be cancelled; stop the running one instead.",
  },
  PROMPT_QUEUE_FULL: {
    status: 429,
    message: "Too many prompts are waiting; wait for one to finish or cancel one.",
  },
  SESSION_ARCHIVED: { status: 409, message: "The session is archived; unarchive it to continue." },
  NOTHING_RUNNING: { status: 409, message: "No prompt is running." },
  REPOSITORY_EXISTS: { status: 409, message: "A repository with this name is already registered." },
  RATE_LIMITED: { status: 429, message: "Too many requests; slow down." },
  SECRET_KEY_MISSING: {
    status: 503,
    message: "Secrets cannot be stored: SECRETS_ENCRYPTION_KEYS is not configured. Set it and restart.",
  },
  SERVICE_NOT_CONFIGURED: {
    status: 503,
    message: "This service's shared secret is not configured, so its requests are refused.",
  },
  SANDBOX_UNAVAILABLE: { status: 503, message: "No sandbox could be started for this session." },
  SANDBOX_NOT_FOUND: { status: 404, message: "No sandbox has this id." },
  PROVIDER_TRANSIENT: { status: 503, message: "The sandbox provider failed; retrying may help." },
  PROVIDER_PERMANENT: { status: 502, message: "The sandbox provider refused the request." },
  UNSUPPORTED: { status: 501, message: "This provider does not support the operation." },
  PULL_REQUEST_NOT_FOUND: { status: 404, message: "This session has no pull request yet; open one first." },
  BRANCH_NOT_PUSHED: {
    status: 409,
    message: "The session's branch has not been pushed yet; let the agent finish a prompt that changes something.",
  },
  MERGE_CONFLICT: {
    status: 409,
    message: "The branch conflicts with its base; resolve the conflicts (ask the agent to merge the base) and try again.",
  },
  PULL_REQUEST_CLOSED: { status: 409, message: "The pull request is already merged or closed." },
  PUSH_APPROVAL_NOT_FOUND: { status: 404, message: "No push is waiting for approval under this id." },
  SCM_NOT_CONFIGURED: {
    status: 503,
    message: "This source control integration is not configured; set its credentials (see docs/adr/0004) and restart.",
  },
  SCM_UPSTREAM: { status: 502, message: "The source control host refused the request or is unreachable; try again." },
  WEBHOOK_SIGNATURE_INVALID: { status: 401, message: "The webhook signature is missing or does not verify." },
  INTERNAL: { status: 500, message: "Something went wrong on our side. Try again." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * WebSocket close codes a client must act on (4000–4999 belong to applications; the last three
 * digits echo the HTTP status). `SIGNED_OUT`: the sign-in that opened the socket has ended (signed
 * out, or the socket never had a valid identity); reconnecting cannot help, so a client stops and
 * asks the person to sign in again.
 */
export const SOCKET_CLOSE_CODES = {
  SIGNED_OUT: 4401,
} as const;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** An expected failure carrying a registry code; turned into a response at one place per process. */
export class LookoutError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERROR_CODES[code].message);
    this.name = "LookoutError";
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}
