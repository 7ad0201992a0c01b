import { randomBytes, randomUUID } from "node:crypto";
import { type ForwardResult, SlackRelay } from "@lookout/slack-relay";
import { apiClient } from "./client";
import { FAKE_SLACK_TEAM, FAKE_SLACK_TOKENS, type FakeSlack, startFakeSlack } from "./fake-slack";
import { createRepoFixture } from "./repo";
import { type Stack, startStack } from "./stack";

/** How often `eventually` looks again; the fake Slack and the stack answer within a few of these. */
const POLL_MS = 250;

export interface SlackStackOptions {
  /**
   * Whether the Worker starts with the fake Slack's bot token in its environment. Without it Slack is
   * refused until an admin pastes the tokens in the dashboard.
   */
  botTokenInEnvironment: boolean;
}

export interface RelayOptions {
  /** The app-level token the relay opens Socket Mode with; the fake Slack's own unless given. */
  appToken?: string;
  onForwarded?: (result: ForwardResult) => void;
}

/** The real stack wired to a fake Slack, as the Slack end-to-end tests use it. */
export interface SlackStack {
  stack: Stack;
  slack: FakeSlack;
  /** The admin's session cookie. */
  cookie: string;
  /** `SERVICE_SECRET_SLACK_RELAY`: the relay signs its hand-offs to the Worker with it. */
  relaySecret: string;
  /** Registers a fresh fixture repository (a local git repository on disk) and returns its id. */
  addRepository(name: string, description?: string): Promise<string>;
  /** Starts the Socket Mode relay against the fake Slack and resolves once its socket is greeted. */
  connectRelay(options?: RelayOptions): Promise<SlackRelay>;
  /**
   * Resolves with the first value `probe` returns before the deadline; a timeout names `what` and
   * shows Slack's last calls and the stack's logs.
   */
  eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T>;
  /** Stops the relay, the stack and the fake Slack, in that order. */
  stop(): Promise<void>;
}

/**
 * Starts a fake Slack (Web API and Socket Mode) and the real stack pointed at it, signed in as the
 * admin. Whatever started is stopped again if a later step fails.
 */
export async function startSlackStack(options: SlackStackOptions): Promise<SlackStack> {
  const relaySecret = randomBytes(32).toString("base64url");
  const slack = await startFakeSlack();
  let stack: Stack | undefined;
  let relay: SlackRelay | undefined;
  const stop = async () => {
    await relay?.stop();
    await stack?.stop();
    await slack.close();
  };
  try {
    stack = await startStack({
      vars: {
        ...(options.botTokenInEnvironment ? { SLACK_BOT_TOKEN: FAKE_SLACK_TOKENS.bot } : {}),
        SLACK_API_URL: slack.apiUrl,
        SERVICE_SECRET_SLACK_RELAY: relaySecret,
      },
    });
    const started = stack;
    const cookie = await started.login();
    return {
      stack: started,
      slack,
      cookie,
      relaySecret,
      async addRepository(name, description) {
        const created = await apiClient(started.url, cookie)<{ repository: { id: string } }>("POST", "/api/repositories", {
          kind: "local",
          path: createRepoFixture(),
          name,
          description,
        });
        if (created.status !== 201) throw new Error(`registering ${name} answered ${created.status}: ${JSON.stringify(created.json)}`);
        return created.json.repository.id;
      },
      async connectRelay(relayOptions = {}) {
        relay = new SlackRelay({
          appToken: relayOptions.appToken ?? FAKE_SLACK_TOKENS.app,
          workerUrl: started.url,
          serviceSecret: relaySecret,
          slackApiUrl: slack.apiUrl,
          onForwarded: relayOptions.onForwarded,
        });
        await relay.start();
        await slack.connected;
        return relay;
      },
      async eventually(probe, timeoutMs, what) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const value = await probe();
          if (value !== undefined) return value;
          if (Date.now() > deadline) {
            throw new Error(
              `timed out after ${timeoutMs / 1000}s waiting for ${what}\n${JSON.stringify(slack.calls.slice(-10))}\n${started.logs().slice(-3000)}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface Mention {
  channel: string;
  /** Who mentions the bot; Alice unless given. */
  user?: string;
  /** What follows the bot's `<@…>` in the message. */
  text: string;
  ts: string;
  /** The thread the mention replies in, if any. */
  threadTs?: string;
}

/** A Socket Mode envelope carrying an `app_mention` of the bot, in the shape Slack sends it. */
export function mentionEnvelope(mention: Mention): { envelope_id: string } & Record<string, unknown> {
  return {
    envelope_id: randomUUID(),
    type: "events_api",
    accepts_response_payload: false,
    payload: {
      type: "event_callback",
      team_id: FAKE_SLACK_TEAM.id,
      api_app_id: "A0LOOKOUT",
      event_id: `Ev${randomUUID().slice(0, 8)}`,
      event_time: Math.floor(Date.now() / 1000),
      event: {
        type: "app_mention",
        user: mention.user ?? "U0ALICE",
        text: `<@${FAKE_SLACK_TEAM.botUserId}> ${mention.text}`,
        ts: mention.ts,
        channel: mention.channel,
        event_ts: mention.ts,
        ...(mention.threadTs ? { thread_ts: mention.threadTs } : {}),
      },
    },
  };
}
