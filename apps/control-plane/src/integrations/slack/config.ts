import { LookoutError, type SlackMode } from "@lookout/protocol";
import type { webApi } from "@slack/bolt";
import type { Env } from "../../env";
import { SlackCredentialStore, type StoredSlackCredentials } from "./credentials";

/** Slack's Web API unless `SLACK_API_URL` points elsewhere (a fake in tests). */
const DEFAULT_SLACK_API_URL = "https://slack.com/api/";

/** Where Slack's tokens come from: the Worker's environment wins over tokens pasted in the dashboard. */
export type SlackCredentialSource = "environment" | "dashboard";

export interface SlackConfig {
  /** Verifies Events API requests; Socket Mode (the relay) needs none, so it may be unset there. */
  signingSecret: string | null;
  botToken: string;
  apiUrl: string;
  /** `mention`: a thread reply must mention the bot to become a prompt; `any`: every reply in a thread Lookout owns does. */
  threadReplies: "mention" | "any";
  source: SlackCredentialSource;
  mode: SlackMode;
}

/** Whether Slack can work, and if not, the names to set. Read without opening any sealed token. */
export interface SlackStatus {
  configured: boolean;
  missing: string[];
  mode: SlackMode;
  /** Null while no bot token is set anywhere. */
  source: SlackCredentialSource | null;
  /** The tokens stored in the dashboard (shown even while the environment's win), or null. */
  stored: StoredSlackCredentials | null;
}

/**
 * How Slack reaches this Worker. With tokens from the environment: Socket Mode when the relay's
 * secret is set (`npm start` sets it only when `SLACK_APP_TOKEN` is), else the Events API. With
 * tokens from the dashboard: Socket Mode when an app-level token was stored.
 */
export function slackMode(env: Env, stored: Pick<StoredSlackCredentials, "appTokenLast4"> | null): SlackMode {
  if (environmentBotToken(env) || !stored) return env.SERVICE_SECRET_SLACK_RELAY?.trim() ? "socket" : "http";
  return stored.appTokenLast4 ? "socket" : "http";
}

/**
 * What is set and what is missing, by the names to set. Environment first: with `SLACK_BOT_TOKEN`
 * there, the Events API also needs `SLACK_SIGNING_SECRET` from there. Else the dashboard's tokens
 * (which always include the signing secret); Socket Mode then needs the relay's secret. With
 * neither, the bot token (and for the Events API the signing secret) are what to set.
 */
export async function slackStatus(env: Env): Promise<SlackStatus> {
  const stored = await SlackCredentialStore.fromEnv(env).describe();
  const mode = slackMode(env, stored);
  const missing: string[] = [];
  let source: SlackCredentialSource | null = null;
  if (environmentBotToken(env)) {
    source = "environment";
    if (mode === "http" && !env.SLACK_SIGNING_SECRET?.trim()) missing.push("SLACK_SIGNING_SECRET");
  } else if (stored) {
    source = "dashboard";
    if (mode === "socket" && !env.SERVICE_SECRET_SLACK_RELAY?.trim()) missing.push("SERVICE_SECRET_SLACK_RELAY");
  } else {
    missing.push("SLACK_BOT_TOKEN");
    if (mode === "http") missing.push("SLACK_SIGNING_SECRET");
  }
  return { configured: missing.length === 0, missing, mode, source, stored };
}

/**
 * The Slack configuration, or `SERVICE_NOT_CONFIGURED` naming what to set: without a bot token in
 * the environment or the dashboard nothing from Slack is accepted (no reply could be sent).
 */
export async function slackConfig(env: Env): Promise<SlackConfig> {
  const shared = {
    apiUrl: slackApiUrl(env),
    threadReplies: env.SLACK_THREAD_REPLIES === "any" ? ("any" as const) : ("mention" as const),
  };
  const botToken = environmentBotToken(env);
  if (botToken) {
    return {
      ...shared,
      signingSecret: env.SLACK_SIGNING_SECRET?.trim() || null,
      botToken,
      source: "environment",
      mode: slackMode(env, null),
    };
  }
  const stored = await SlackCredentialStore.fromEnv(env).open();
  if (!stored) throw notConfigured("SLACK_BOT_TOKEN");
  return {
    ...shared,
    signingSecret: stored.signingSecret,
    botToken: stored.botToken,
    source: "dashboard",
    mode: slackMode(env, stored),
  };
}

/** The signing secret, or `SERVICE_NOT_CONFIGURED`: an Events API request is never accepted unverified. */
export function requireSigningSecret(config: SlackConfig): string {
  if (!config.signingSecret) throw notConfigured("SLACK_SIGNING_SECRET");
  return config.signingSecret;
}

/** The API base URL tokens are checked against before they are stored (`auth.test`). */
export function slackApiUrl(env: Env): string {
  return env.SLACK_API_URL?.trim() || DEFAULT_SLACK_API_URL;
}

function environmentBotToken(env: Env): string | null {
  return env.SLACK_BOT_TOKEN?.trim() || null;
}

function notConfigured(name: string): LookoutError {
  return new LookoutError(
    "SERVICE_NOT_CONFIGURED",
    `Slack is not connected: set ${name} (see docs/slack.md) or paste the tokens under Settings → Slack; until then Slack requests are refused.`,
  );
}

/**
 * Options for Bolt's and the Web API's clients inside workerd. WebClient sends `redirect: "error"`,
 * which workerd rejects, and calls the fetch it stored unbound, which workerd refuses as an illegal
 * invocation; a wrapper fixes both. A `SLACK_API` service binding, when bound, carries the calls.
 */
export function slackClientOptions(env: Env, config: Pick<SlackConfig, "apiUrl">): webApi.WebClientOptions {
  const binding = env.SLACK_API;
  return {
    slackApiUrl: config.apiUrl,
    fetch: (input, init) => {
      const request = { ...init, redirect: "manual" as const };
      return binding ? binding.fetch(input, request) : fetch(input, request);
    },
    // The outbox retries a report with its own backoff; the client must not block a request retrying.
    retryConfig: { retries: 0 },
  };
}
