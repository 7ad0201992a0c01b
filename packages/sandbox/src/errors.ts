import { z } from "zod";

/**
 * Provider failures are classified once, here, from structured fields only (HTTP status, gRPC
 * status, errno codes): never from message text, which vendors reword freely.
 *
 * `transient` means retrying the same call later may succeed (capacity, rate limits, network);
 * `permanent` means it will not (bad request, auth, unknown id, unsupported operation). The control
 * plane counts only permanent failures toward its circuit breaker.
 */
export type SandboxErrorKind = "transient" | "permanent";

export type SandboxErrorReason =
  | "not_found"
  | "unsupported"
  | "invalid_request"
  | "conflict"
  | "unauthorized"
  | "rate_limited"
  | "capacity"
  | "unavailable"
  | "timeout"
  | "internal";

export interface SandboxProviderErrorOptions {
  provider: string;
  kind: SandboxErrorKind;
  reason: SandboxErrorReason;
  /** The vendor's HTTP status, when there was one. */
  httpStatus?: number;
  /** The vendor's error code, errno or gRPC status name, when there was one. */
  code?: string;
  cause?: unknown;
}

export class SandboxProviderError extends Error {
  readonly provider: string;
  readonly kind: SandboxErrorKind;
  readonly reason: SandboxErrorReason;
  readonly httpStatus: number | undefined;
  readonly code: string | undefined;

  constructor(message: string, options: SandboxProviderErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "SandboxProviderError";
    this.provider = options.provider;
    this.kind = options.kind;
    this.reason = options.reason;
    this.httpStatus = options.httpStatus;
    this.code = options.code;
  }
}

export interface Classification {
  kind: SandboxErrorKind;
  reason: SandboxErrorReason;
}

/** HTTP statuses: 408/425/429 and 5xx except 501 are worth retrying. */
export function classifyHttpStatus(status: number): Classification {
  if (status === 404 || status === 410) return { kind: "permanent", reason: "not_found" };
  if (status === 401 || status === 403) return { kind: "permanent", reason: "unauthorized" };
  if (status === 409) return { kind: "permanent", reason: "conflict" };
  if (status === 408 || status === 504) return { kind: "transient", reason: "timeout" };
  if (status === 429) return { kind: "transient", reason: "rate_limited" };
  if (status === 425) return { kind: "transient", reason: "unavailable" };
  if (status === 501) return { kind: "permanent", reason: "unsupported" };
  if (status === 507) return { kind: "transient", reason: "capacity" };
  if (status >= 500) return { kind: "transient", reason: "unavailable" };
  if (status >= 400) return { kind: "permanent", reason: "invalid_request" };
  return { kind: "permanent", reason: "internal" };
}

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GRPC_STATUS = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export function classifyGrpcStatus(code: number): Classification {
  switch (code) {
    case GRPC_STATUS.UNAVAILABLE:
    case GRPC_STATUS.ABORTED:
    case GRPC_STATUS.CANCELLED:
      return { kind: "transient", reason: "unavailable" };
    case GRPC_STATUS.DEADLINE_EXCEEDED:
      return { kind: "transient", reason: "timeout" };
    case GRPC_STATUS.RESOURCE_EXHAUSTED:
      return { kind: "transient", reason: "capacity" };
    case GRPC_STATUS.NOT_FOUND:
      return { kind: "permanent", reason: "not_found" };
    case GRPC_STATUS.ALREADY_EXISTS:
    case GRPC_STATUS.FAILED_PRECONDITION:
      return { kind: "permanent", reason: "conflict" };
    case GRPC_STATUS.PERMISSION_DENIED:
    case GRPC_STATUS.UNAUTHENTICATED:
      return { kind: "permanent", reason: "unauthorized" };
    case GRPC_STATUS.UNIMPLEMENTED:
      return { kind: "permanent", reason: "unsupported" };
    case GRPC_STATUS.INVALID_ARGUMENT:
    case GRPC_STATUS.OUT_OF_RANGE:
      return { kind: "permanent", reason: "invalid_request" };
    default:
      return { kind: "permanent", reason: "internal" };
  }
}

/** Network errno codes that mean "could not reach the other side right now". */
const TRANSIENT_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ECONNABORTED",
]);

const ErrnoShape = z.object({ code: z.string() });
const CauseShape = z.object({ cause: z.unknown() });

/**
 * Finds a network errno anywhere in the `cause` chain (fetch wraps socket errors in a TypeError
 * whose `cause` carries the code).
 */
export function findErrno(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== "object" || error === null) return undefined;
  const errno = ErrnoShape.safeParse(error);
  if (errno.success && /^(E[A-Z0-9_]+|UND_ERR_[A-Z_]+)$/.test(errno.data.code)) return errno.data.code;
  const cause = CauseShape.safeParse(error);
  return cause.success ? findErrno(cause.data.cause, depth + 1) : undefined;
}

export function classifyErrno(code: string): Classification {
  if (TRANSIENT_ERRNO.has(code)) return { kind: "transient", reason: "unavailable" };
  if (code === "ENOENT") return { kind: "permanent", reason: "not_found" };
  if (code === "EACCES" || code === "EPERM") return { kind: "permanent", reason: "unauthorized" };
  if (code === "ENOSPC" || code === "EMFILE" || code === "ENFILE" || code === "EAGAIN") {
    return { kind: "transient", reason: "capacity" };
  }
  return { kind: "permanent", reason: "internal" };
}

export function providerError(
  provider: string,
  message: string,
  classification: Classification,
  extra: { httpStatus?: number; code?: string; cause?: unknown } = {},
): SandboxProviderError {
  return new SandboxProviderError(message, { provider, ...classification, ...extra });
}

export function isSandboxProviderError(error: unknown): error is SandboxProviderError {
  return error instanceof SandboxProviderError;
}
