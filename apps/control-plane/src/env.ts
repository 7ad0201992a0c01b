import type { GatewayContainer } from "./gateway-container";
import type { SessionAgent } from "./session/session-agent";
import type { TriggerScheduler } from "./triggers/scheduler-object";

/**
 * The Worker's bindings and configuration. Bindings and `[vars]` come from `wrangler.toml`;
 * secrets come locally from the start command (as bindings, through `@lookout/dev-stack`) or a
 * `.dev.vars`, and from `wrangler secret` in production. Every secret is optional in the type
 * because a missing one must fail closed at the point of use, with a clear error, rather than crash
 * the Worker.
 */
export interface Env {
  DB: D1Database;
  SESSION: DurableObjectNamespace<SessionAgent>;
  /** The one scheduler object: its alarm fires cron automations and drains the report outbox. */
  TRIGGER_SCHEDULER: DurableObjectNamespace<TriggerScheduler>;
  ASSETS?: Fetcher;
  /** `local` (the default), or the deployment's name (`staging`, `production`); see `config.ts`. */
  LOOKOUT_ENVIRONMENT?: string;

  /** A service binding to the sandbox gateway; when bound it is used instead of `GATEWAY_URL`. */
  GATEWAY?: Fetcher;
  /** The sandbox gateway as a Cloudflare Container (deployed environments); see `gateway-container.ts`. */
  GATEWAY_CONTAINER?: DurableObjectNamespace<GatewayContainer>;
  /** Base URL of the sandbox gateway. */
  GATEWAY_URL: string;
  /** The URL sandboxes (and login links) use to reach this Worker. */
  PUBLIC_URL: string;
  /**
   * Comma-separated origins, besides `PUBLIC_URL`'s, whose pages may write with the session cookie
   * (e.g. the dashboard's Vite dev server, `http://localhost:5173`); cookie-authenticated writes
   * from any other `Origin` are refused. Unset in every shipped configuration.
   */
  TRUSTED_ORIGINS?: string;
  /**
   * `true` only where Cloudflare's edge fronts the Worker (a deployment): there `CF-Connecting-IP`
   * is the caller's address, set by Cloudflare. Under `wrangler dev` any caller can send that header,
   * so unless this is `true` the sign-in limiter counts every caller as one client.
   */
  TRUST_CF_CONNECTING_IP?: string;
  /** The model new sessions use unless they ask for another, as `provider/model`. */
  DEFAULT_MODEL: string;
  /** Comma-separated `provider/model` list offered to users. */
  MODELS: string;

  /** JSON object overriding session lifecycle timings (see `session/lifecycle.ts`). */
  LIFECYCLE_OVERRIDES?: string;
  /** JSON object overriding trigger caps and timings (see `triggers/limits.ts`). */
  TRIGGER_LIMITS?: string;

  /** SHA-256 (hex) of the admin login token printed by the start command. */
  ADMIN_TOKEN_SHA256?: string;
  /** Key for signing short-lived WebSocket tokens. */
  WS_TOKEN_SECRET?: string;
  /** `version:base64key` pairs, comma-separated, newest first; the first one seals new values. */
  SECRETS_ENCRYPTION_KEYS?: string;
  /** Secret this Worker signs gateway requests with (service `control-plane`). */
  GATEWAY_SERVICE_SECRET?: string;
  /** Shared with the sandbox gateway: signs git credentials for local repositories. */
  GIT_CREDENTIAL_SECRET?: string;
  /** The gateway's base URL as sandboxes reach it, when it differs from `GATEWAY_URL`. */
  GATEWAY_PUBLIC_URL?: string;
  /** `false` opens pull requests ready for review instead of as drafts. */
  PULL_REQUEST_DRAFT_DEFAULT?: string;

  /** The GitHub App: id, private key (PEM), the installation Lookout works in. */
  GITHUB_APP_ID?: string;
  GITHUB_APP_PRIVATE_KEY?: string;
  GITHUB_APP_INSTALLATION_ID?: string;
  /** The App's OAuth client, for GitHub sign-in. */
  GITHUB_APP_CLIENT_ID?: string;
  GITHUB_APP_CLIENT_SECRET?: string;
  /** Verifies `X-Hub-Signature-256` on `POST /api/webhooks/github`; unset refuses every delivery. */
  GITHUB_WEBHOOK_SECRET?: string;
  /** GitHub's API (`https://api.github.com` unless Enterprise, or a fake in tests). */
  GITHUB_API_URL?: string;
  /** GitHub's web and git host (`https://github.com` unless Enterprise, or a fake in tests): clone URLs and git credentials. */
  GITHUB_WEB_URL?: string;
  /** A service binding that carries GitHub API calls instead of the internet (tests bind a fake). */
  GITHUB_API?: Fetcher;
  /** Comma-separated GitHub logins / organisations admitted by GitHub sign-in, and logins made admins. */
  ALLOWED_GITHUB_USERS?: string;
  ALLOWED_GITHUB_ORGS?: string;
  ADMIN_GITHUB_USERS?: string;

  /** The gateway container's environment: `GATEWAY_ENV_<NAME>` reaches it as `<NAME>` (provider and model keys). */
  [key: `GATEWAY_ENV_${string}`]: string | undefined;
  /** Verifies `Linear-Signature` on `POST /api/linear/webhook`; unset refuses every delivery. */
  LINEAR_WEBHOOK_SECRET?: string;
  /** The Linear OAuth application Lookout installs as (`actor=app`). */
  LINEAR_CLIENT_ID?: string;
  LINEAR_CLIENT_SECRET?: string;
  /** Linear's GraphQL API, authorize page and token endpoint (defaults: linear.app's; fakes in tests). */
  LINEAR_API_URL?: string;
  LINEAR_AUTHORIZE_URL?: string;
  LINEAR_OAUTH_TOKEN_URL?: string;

  /**
   * Slack (docs/slack.md): the bot token (`xoxb-…`) and the app's signing secret. When the bot token
   * is set these win over tokens pasted in the dashboard; with neither, every Slack request is refused.
   */
  SLACK_BOT_TOKEN?: string;
  SLACK_SIGNING_SECRET?: string;
  /** Slack's Web API base URL (`https://slack.com/api/` unless a fake in tests). */
  SLACK_API_URL?: string;
  /** A service binding that carries Slack Web API calls instead of the internet (tests bind a fake). */
  SLACK_API?: Fetcher;
  /** `any`: every reply in a thread Lookout owns is a follow-up; otherwise (`mention`) only replies that mention it. */
  SLACK_THREAD_REPLIES?: string;

  /** Per-service secrets for signed requests *to* this Worker: `SERVICE_SECRET_<NAME>`. */
  [key: `SERVICE_SECRET_${string}`]: string | undefined;
}

declare global {
  // Cloudflare's generated types declare bindings on this namespace; merging into it is the only way.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Cloudflare {
    // Lets `cloudflare:test`, the Agents SDK and `cloudflare:workers` see the same bindings.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Env extends LookoutEnv {}
  }
}

type LookoutEnv = Env;
