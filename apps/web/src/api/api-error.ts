import { z } from "zod";

/** The body of every non-2xx response from `/api/*` and `/auth/*`. */
const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** Codes the client itself assigns when the server could not be asked or answered nonsense. */
export const CLIENT_ERROR_CODES = {
  NETWORK: "NETWORK",
  BAD_RESPONSE: "BAD_RESPONSE",
} as const;

/**
 * A failed API call. `message` is the server's `error.message` (written for people), so the UI
 * shows it as is; `status` is 0 when the request never got an answer.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  get isUnauthenticated(): boolean {
    return this.status === 401;
  }

  /** Whether retrying the same request later may succeed. */
  get isTransient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  static network(cause: unknown): ApiError {
    return new ApiError(
      0,
      CLIENT_ERROR_CODES.NETWORK,
      "Lookout cannot be reached. Check your connection; the page retries on its own.",
      cause,
    );
  }

  /** Builds the error for a non-2xx response from its body, whatever shape it has. */
  static fromResponse(status: number, body: unknown): ApiError {
    const parsed = ErrorBodySchema.safeParse(body);
    if (parsed.success) {
      const { code, message, details } = parsed.data.error;
      return new ApiError(status, code, message, details);
    }
    return new ApiError(status, `HTTP_${status}`, `The server answered ${status} without an explanation.`, body);
  }
}

/** The text to show a person for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
