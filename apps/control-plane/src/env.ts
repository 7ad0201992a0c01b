import type { SessionAgent } from "./session/session-agent";

/**
 * The Worker's bindings and configuration. Bindings and `[vars]` come from `wrangler.toml`;
 * secrets come from `.dev.vars` locally (written by the start command) and `wrangler secret` in
 * production. Every secret is optional in the type because a missing one must fail closed at the
 * point of use, with a clear error, rather than crash the Worker.
 */
export interface Env {
  DB: D1Database;
  SESSION: DurableObjectNamespace<SessionAgent>;
  ASSETS?: Fetcher;

  /** A service binding to the sandbox gateway; when bound it is used instead of `GATEWAY_URL`. */
  GATEWAY?: Fetcher;
  /** Base URL of the sandbox gateway. */
  GATEWAY_URL: string;
  /** The URL sandboxes (and login links) use to reach this Worker. */
  PUBLIC_URL: string;
  /** The model new sessions use unless they ask for another, as `provider/model`. */
  DEFAULT_MODEL: string;
  /** Comma-separated `provider/model` list offered to users. */
  MODELS: string;

  /** JSON object overriding session lifecycle timings (see `session/lifecycle.ts`). */
  LIFECYCLE_OVERRIDES?: string;

  /** SHA-256 (hex) of the admin login token printed by the start command. */
  ADMIN_TOKEN_SHA256?: string;
  /** Key for signing short-lived WebSocket tokens. */
  WS_TOKEN_SECRET?: string;
  /** `version:base64key` pairs, comma-separated, newest first; the first one seals new values. */
  SECRETS_ENCRYPTION_KEYS?: string;
  /** Secret this Worker signs gateway requests with (service `control-plane`). */
  GATEWAY_SERVICE_SECRET?: string;
  /** Per-service secrets for signed requests *to* this Worker: `SERVICE_SECRET_<NAME>`. */
  [key: `SERVICE_SECRET_${string}`]: string | undefined;
}

declare global {
  namespace Cloudflare {
    // Lets `cloudflare:test`, the Agents SDK and `cloudflare:workers` see the same bindings.
    interface Env extends LookoutEnv {}
  }
}

type LookoutEnv = Env;
