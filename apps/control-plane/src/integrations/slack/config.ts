import { LookoutError } from "@lookout/protocol";
import type { webApi } from "@slack/bolt";
import type { Env } from "../../env";

/** Slack's Web API unless `SLACK_API_URL` points elsewhere (a fake in tests). */
const DEFAULT_SLACK_API_URL = "https://slack.com/api/";

export interface SlackConfig {
  signingSecret: string;
  botToken: string;
  apiUrl: string;
  /** `mention`: a thread reply must mention the bot to become a prompt; `any`: every reply in a thread Lookout owns does. */
  threadReplies: "mention" | "any";
}

/** The names to set for Slack to work, of those not set. */
export function missingSlackSettings(env: Env): string[] {
  const missing: string[] = [];
  if (!env.SLACK_BOT_TOKEN?.trim()) missing.push("SLACK_BOT_TOKEN");
  if (!env.SLACK_SIGNING_SECRET?.trim()) missing.push("SLACK_SIGNING_SECRET");
  return missing;
}

/**
 * The Slack configuration, or `SERVICE_NOT_CONFIGURED` naming what to set: with either token
 * missing nothing from Slack is accepted (a request cannot be verified, a reply cannot be sent).
 */
export function slackConfig(env: Env): SlackConfig {
  const missing = missingSlackSettings(env);
  if (missing.length > 0) {
    throw new LookoutError(
      "SERVICE_NOT_CONFIGURED",
      `Slack is not connected: set ${missing.join(" and ")} (see docs/slack.md); until then Slack requests are refused.`,
    );
  }
  return {
    signingSecret: env.SLACK_SIGNING_SECRET!.trim(),
    botToken: env.SLACK_BOT_TOKEN!.trim(),
    apiUrl: env.SLACK_API_URL?.trim() || DEFAULT_SLACK_API_URL,
    threadReplies: env.SLACK_THREAD_REPLIES === "any" ? "any" : "mention",
  };
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
