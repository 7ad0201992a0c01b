import { LookoutError } from "@lookout/protocol";
import type { webApi } from "@slack/bolt";
import type { Env } from "../../env";

/** Slack's Web API unless `SLACK_API_URL` points elsewhere (a fake in tests). */
const DEFAULT_SLACK_API_URL = "https://slack.com/api/";

export interface SlackConfig {
  /** Verifies Events API requests; Socket Mode (the relay) needs none, so it may be unset there. */
  signingSecret: string | null;
  botToken: string;
  apiUrl: string;
  /** `mention`: a thread reply must mention the bot to become a prompt; `any`: every reply in a thread Lookout owns does. */
  threadReplies: "mention" | "any";
}

/** How Slack reaches this Worker: through the Socket Mode relay when its secret is set, else the Events API. */
export function slackMode(env: Env): "socket" | "http" {
  return env.SERVICE_SECRET_SLACK_RELAY?.trim() ? "socket" : "http";
}

/**
 * The names to set for Slack to work, of those not set: the bot token always, and for the Events
 * API the signing secret (Socket Mode envelopes arrive through the relay's signed requests instead).
 */
export function missingSlackSettings(env: Env): string[] {
  const missing: string[] = [];
  if (!env.SLACK_BOT_TOKEN?.trim()) missing.push("SLACK_BOT_TOKEN");
  if (slackMode(env) === "http" && !env.SLACK_SIGNING_SECRET?.trim()) missing.push("SLACK_SIGNING_SECRET");
  return missing;
}

/**
 * The Slack configuration, or `SERVICE_NOT_CONFIGURED` naming what to set: without the bot token
 * nothing from Slack is accepted (no reply could be sent).
 */
export function slackConfig(env: Env): SlackConfig {
  if (!env.SLACK_BOT_TOKEN?.trim()) throw notConfigured("SLACK_BOT_TOKEN");
  return {
    signingSecret: env.SLACK_SIGNING_SECRET?.trim() || null,
    botToken: env.SLACK_BOT_TOKEN.trim(),
    apiUrl: env.SLACK_API_URL?.trim() || DEFAULT_SLACK_API_URL,
    threadReplies: env.SLACK_THREAD_REPLIES === "any" ? "any" : "mention",
  };
}

/** The signing secret, or `SERVICE_NOT_CONFIGURED`: an Events API request is never accepted unverified. */
export function requireSigningSecret(config: SlackConfig): string {
  if (!config.signingSecret) throw notConfigured("SLACK_SIGNING_SECRET");
  return config.signingSecret;
}

function notConfigured(name: string): LookoutError {
  return new LookoutError(
    "SERVICE_NOT_CONFIGURED",
    `Slack is not connected: set ${name} (see docs/slack.md); until then Slack requests are refused.`,
  );
}

/**
 * Options for Bolt's and the Web API's clients inside workerd. WebClient sends `redirect: "error"`,
 * which workerd rejects, and calls the fetch it stored unbound, which workerd refuses as an illegal
 * invocation; a wrapper fixes both. A `SLACK_API` service binding, when bound, carries the calls.
 */
export function slackClientOptions(env: Env, config: SlackConfig): webApi.WebClientOptions {
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
