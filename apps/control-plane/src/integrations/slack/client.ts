import type { types, webApi } from "@slack/bolt";
import type { Env } from "../../env";
import { log } from "../../log";
import { type SlackConfig, slackClientOptions } from "./config";
import { slackSdk } from "./sdk";

type WebClient = webApi.WebClient;

/** A message body: plain text (the notification and fallback) and optional Block Kit. */
export interface SlackMessage {
  text: string;
  blocks?: types.KnownBlock[];
}

/**
 * The Web API calls Lookout makes, over Bolt's `WebClient` (the one a listener is given, or one
 * built for the outbox). Calls that only decorate (👀) never throw; the rest throw so the caller
 * (Bolt's error handler, the outbox's retry) sees the failure.
 */
export class SlackClient {
  constructor(readonly web: WebClient) {}

  static async fromConfig(env: Env, config: SlackConfig): Promise<SlackClient> {
    const { webApi } = await slackSdk();
    return new SlackClient(new webApi.WebClient(config.botToken, slackClientOptions(env, config)));
  }

  /** Adds a reaction; one already there is fine, and failing to decorate never stops the work. */
  async react(channel: string, timestamp: string, name: string): Promise<void> {
    try {
      await this.web.reactions.add({ channel, timestamp, name });
    } catch (error) {
      if (slackErrorCode(error) !== "already_reacted") log.warn("could not add a Slack reaction", { channel, timestamp, error });
    }
  }

  /** Posts in a thread; returns the new message's ts. */
  async post(channel: string, threadTs: string, message: SlackMessage): Promise<string | null> {
    const result = await this.web.chat.postMessage({ channel, thread_ts: threadTs, unfurl_links: false, ...message });
    return result.ts ?? null;
  }

  /** Replaces a message in place; false when it no longer exists (deleted), so the caller posts anew. */
  async update(channel: string, ts: string, message: SlackMessage): Promise<boolean> {
    try {
      await this.web.chat.update({ channel, ts, ...message });
      return true;
    } catch (error) {
      if (slackErrorCode(error) === "message_not_found") return false;
      throw error;
    }
  }

  async ephemeral(channel: string, user: string, text: string, threadTs?: string): Promise<void> {
    await this.web.chat.postEphemeral({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
  }

  /** The person's name as Slack shows it; null when `users.info` fails (the id stands in). */
  async userInfo(user: string): Promise<{ name: string; avatarUrl: string | null } | null> {
    try {
      const result = await this.web.users.info({ user });
      const profile = result.user?.profile;
      const name = profile?.display_name || profile?.real_name || result.user?.real_name || result.user?.name;
      return name ? { name, avatarUrl: profile?.image_72 ?? null } : null;
    } catch (error) {
      log.warn("could not read a Slack user's profile", { user, error });
      return null;
    }
  }
}

/** The `error` field of a Slack Web API failure (`channel_not_found`, …), read from its structured data. */
export function slackErrorCode(error: unknown): string | null {
  if (typeof error !== "object" || error === null || !("data" in error)) return null;
  const data: unknown = error.data;
  if (typeof data !== "object" || data === null || !("error" in data)) return null;
  return typeof data.error === "string" ? data.error : null;
}
