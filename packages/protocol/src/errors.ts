import { z } from "zod";

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
  USER_NOT_FOUND: { status: 404, message: "No user has this id." },
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
  // What the agent's run reports in `agent.error` events (from the bridge, or the session's own timers).
  EXECUTION_TIMEOUT: {
    status: 504,
    message: "The prompt ran past the execution time limit and was stopped; split the work into smaller prompts.",
  },
  PROMPT_REJECTED: { status: 502, message: "The agent did not accept the prompt; send it again." },
  PROMPT_ABORTED: { status: 502, message: "The agent's run was aborted before it finished; send the prompt again." },
  MODEL_API_ERROR: {
    status: 502,
    message: "The model provider's API returned an error; check the provider's status and the model's key, then try again.",
  },
  MODEL_AUTH_FAILED: { status: 502, message: "The model provider refused its key; set a valid key for the provider and restart." },
  MODEL_OUTPUT_TOO_LONG: { status: 502, message: "The model's answer hit its output length limit; ask for less at a time." },
  MODEL_OUTPUT_INVALID: { status: 502, message: "The model's answer did not have the shape the agent asked for; try again." },
  MODEL_CONTEXT_OVERFLOW: {
    status: 413,
    message: "The conversation no longer fits the model's context window; start a new session or ask for a smaller change.",
  },
  MODEL_CONTENT_FILTERED: { status: 422, message: "The model provider's content filter blocked the answer; rephrase the prompt." },
  MODEL_NOT_CONFIGURED: {
    status: 503,
    message:
      "The sandbox gateway has no model to answer with; set LOOKOUT_SMALL_MODEL or a provider (ANTHROPIC_API_KEY, OPENAI_API_KEY, LOOKOUT_OPENAI_COMPATIBLE_BASE_URL or LOOKOUT_SCRIPTED_MODEL_URL) on the gateway and restart it.",
  },
  MODEL_TIMEOUT: { status: 504, message: "The model did not answer in time; try again, or configure a faster small model." },
  AGENT_FAILED: { status: 500, message: "The agent failed without naming a reason; see the message and try again." },
  OPENCODE_EXITED: { status: 500, message: "The agent's process exited unexpectedly; the session starts a new sandbox." },
  BRIDGE_SETUP_FAILED: { status: 500, message: "The sandbox could not start the agent; see the message for the step that failed." },
  GIT_COMMIT_FAILED: { status: 500, message: "The agent's changes could not be committed in the sandbox; they stay in its checkout." },
  GIT_PUSH_FAILED: { status: 502, message: "The session's branch could not be pushed; its commits stay in the sandbox." },
  SNAPSHOT_FAILED: { status: 500, message: "The sandbox could not prepare a snapshot; the session keeps running without one." },
  AUTOMATION_NOT_FOUND: { status: 404, message: "No automation has this id." },
  AUTOMATION_PAUSED: { status: 409, message: "The automation is paused; resume it before running it." },
  INVALID_CRON: {
    status: 422,
    message: "The cron expression is not valid: write five fields (minute hour day-of-month month day-of-week), e.g. `0 9 * * 1-5`.",
  },
  INVALID_TIME_ZONE: {
    status: 422,
    message: "The time zone is not one this runtime knows; use an IANA name such as `Europe/Berlin` or `UTC`.",
  },
  CRON_TOO_FREQUENT: {
    status: 422,
    message: "The schedule fires more often than the minimum interval between runs allows; space its times further apart.",
  },
  WEBHOOK_KEY_INVALID: {
    status: 401,
    message:
      "The webhook key is missing or wrong: send the automation's key in X-Lookout-Webhook-Key (regenerate it on the automation's page if it is lost).",
  },
  JSONPATH_INVALID: {
    status: 422,
    message:
      "The JSONPath expression cannot be evaluated; use members, wildcards, indexes and slices (filter and script expressions are not allowed).",
  },
  CONFIGURATION_INVALID: {
    status: 500,
    message: "This deployment is missing a required binding, variable or secret (named in the message); set it and deploy again.",
  },
  LINEAR_NOT_CONNECTED: {
    status: 503,
    message:
      "No Linear workspace is connected for this delivery; connect Linear under Settings → Linear (and set LINEAR_CLIENT_ID and LINEAR_CLIENT_SECRET).",
  },
  LINEAR_WORKSPACE_UNKNOWN: {
    status: 403,
    message:
      "This Linear workspace has not installed Lookout, so its deliveries are refused and nothing is recorded; connect it under Settings → Linear.",
  },
  LINEAR_UPSTREAM: { status: 502, message: "Linear refused the request or is unreachable; try again." },
  SLACK_TOKEN_REJECTED: {
    status: 400,
    message:
      "Slack refused the bot token (auth.test); copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page.",
  },
  INTERNAL: { status: 500, message: "Something went wrong on our side. Try again." },
  /** Only ever read, never sent: a stored code this version does not know (see `readStoredErrorCode`). */
  UNKNOWN: { status: 500, message: "An error recorded under a code this version of Lookout does not know." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Every wire field that carries an error code is this schema: a code from the registry, nothing else. */
export const ErrorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/**
 * Codes older versions wrote into stored `agent.error` events (the bridge derived them from
 * OpenCode's error names), mapped to the registry code that means the same.
 */
const LEGACY_ERROR_CODES: ReadonlyMap<string, ErrorCode> = new Map([
  ["API_ERROR", "MODEL_API_ERROR"],
  ["PROVIDER_AUTH_ERROR", "MODEL_AUTH_FAILED"],
  ["MESSAGE_OUTPUT_LENGTH_ERROR", "MODEL_OUTPUT_TOO_LONG"],
  ["STRUCTURED_OUTPUT_ERROR", "MODEL_OUTPUT_INVALID"],
  ["CONTEXT_OVERFLOW_ERROR", "MODEL_CONTEXT_OVERFLOW"],
  ["CONTENT_FILTER_ERROR", "MODEL_CONTENT_FILTERED"],
  ["MESSAGE_ABORTED_ERROR", "PROMPT_ABORTED"],
  ["UNKNOWN_ERROR", "AGENT_FAILED"],
]);

/**
 * The code of a stored row, which an older or newer version may have written: a registry code
 * as is, a legacy one mapped, anything else `UNKNOWN`, so no stored event becomes unreadable.
 */
export function readStoredErrorCode(value: unknown): ErrorCode {
  if (isErrorCode(value)) return value;
  return (typeof value === "string" ? LEGACY_ERROR_CODES.get(value) : undefined) ?? "UNKNOWN";
}

/** The error code field of a stored event: lenient on read, always a registry code after parsing. */
export const StoredErrorCode = z.unknown().transform(readStoredErrorCode);

/**
 * Every WebSocket close code the session sends (4000–4999 belong to applications; the last three
 * digits echo the HTTP status). Clients and the bridge act on them; none is sent anywhere else.
 */
export const SOCKET_CLOSE_CODES = {
  /** The upgrade did not come through the Worker, which sets the identity headers. */
  BAD_UPGRADE: 4400,
  /**
   * The sign-in that opened the socket has ended (signed out, or the socket never had a valid
   * identity); reconnecting cannot help, so a client stops and asks the person to sign in again.
   */
  SIGNED_OUT: 4401,
  /** The bridge's credentials were refused by the Worker before the upgrade. */
  FORBIDDEN: 4403,
  /** The session does not exist (or is unavailable) at upgrade time. */
  SESSION_NOT_FOUND: 4404,
  /** A newer bridge connection for the same sandbox replaced this one. */
  SUPERSEDED: 4409,
  /** This sandbox is no longer the session's sandbox (stopped, lost or replaced); it must shut down. */
  SANDBOX_RETIRED: 4410,
  /** The session cannot take the bridge's events right now; reconnect later and re-send what was not acknowledged. */
  UNAVAILABLE: 4503,
} as const;

/** The body of every non-2xx answer, from the Worker's REST routes and the sandbox gateway alike. */
export const ErrorBody = z.object({
  error: z.object({ code: ErrorCode, message: z.string(), details: z.unknown().optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

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
