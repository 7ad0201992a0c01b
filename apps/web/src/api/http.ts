import type { z } from "zod";
import { summarizeIssues } from "@lookout/protocol";
import { ApiError, CLIENT_ERROR_CODES } from "./api-error";

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions<S extends z.ZodType | undefined> {
  /** Validates the 2xx body; omit for responses without one (204). */
  schema?: S;
  body?: unknown;
  query?: Record<string, QueryValue>;
  signal?: AbortSignal;
}

type Result<S> = S extends z.ZodType ? z.infer<S> : undefined;

export interface HttpClientOptions {
  /** Prefix for every path; empty for the page's own origin. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

/**
 * A small JSON-over-fetch client: one place that sends cookies, turns error bodies into
 * `ApiError`s, validates successful bodies against the protocol's schemas and announces a lost
 * login (any 401) to whoever listens.
 */
export class HttpClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #unauthenticatedListeners = new Set<(error: ApiError) => void>();

  constructor(options: HttpClientOptions = {}) {
    this.#baseUrl = options.baseUrl ?? "";
    // Bound so that `window.fetch` keeps its receiver.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Calls `listener` whenever a request answers 401; returns an unsubscribe function. */
  onUnauthenticated(listener: (error: ApiError) => void): () => void {
    this.#unauthenticatedListeners.add(listener);
    return () => this.#unauthenticatedListeners.delete(listener);
  }

  /** Tells the `onUnauthenticated` listeners that the login is gone, as learnt elsewhere (a socket). */
  announceUnauthenticated(error: ApiError): void {
    for (const listener of this.#unauthenticatedListeners) listener(error);
  }

  get<S extends z.ZodType | undefined>(path: string, options: RequestOptions<S> = {}): Promise<Result<S>> {
    return this.request("GET", path, options);
  }

  post<S extends z.ZodType | undefined>(path: string, options: RequestOptions<S> = {}): Promise<Result<S>> {
    return this.request("POST", path, options);
  }

  put<S extends z.ZodType | undefined>(path: string, options: RequestOptions<S> = {}): Promise<Result<S>> {
    return this.request("PUT", path, options);
  }

  patch<S extends z.ZodType | undefined>(path: string, options: RequestOptions<S> = {}): Promise<Result<S>> {
    return this.request("PATCH", path, options);
  }

  delete<S extends z.ZodType | undefined>(path: string, options: RequestOptions<S> = {}): Promise<Result<S>> {
    return this.request("DELETE", path, options);
  }

  async request<S extends z.ZodType | undefined>(method: string, path: string, options: RequestOptions<S>): Promise<Result<S>> {
    const headers: Record<string, string> = { accept: "application/json" };
    const init: RequestInit = { method, headers, credentials: "same-origin" };
    if (options.signal) init.signal = options.signal;
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }

    let response: Response;
    try {
      response = await this.#fetch(this.#baseUrl + path + queryString(options.query), init);
    } catch (cause) {
      if (isAbort(cause)) throw cause;
      throw ApiError.network(cause);
    }

    const body = await readBody(response);
    if (!response.ok) {
      const error = ApiError.fromResponse(response.status, body);
      if (error.isUnauthenticated) this.announceUnauthenticated(error);
      throw error;
    }
    if (!options.schema) return undefined as Result<S>;
    const parsed = options.schema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(
        response.status,
        CLIENT_ERROR_CODES.BAD_RESPONSE,
        `The server's answer to ${method} ${path} does not match this dashboard's version (${summarizeIssues(parsed.error)}). Reload the page.`,
        parsed.error.issues,
      );
    }
    return parsed.data as Result<S>;
  }
}

export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function readBody(response: Response): Promise<unknown> {
  if (response.status === 204) return undefined;
  const text = await response.text().catch(() => "");
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
