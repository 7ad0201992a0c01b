import type { App, Logger, LogLevel } from "@slack/bolt";
import type { Env } from "../../env";
import { log } from "../../log";
import { pickRepository, publishHome, setHomeDefault, setHomeModel, slashCommand, stopFromButton } from "./actions";
import { SlackClient } from "./client";
import { type SlackConfig, slackClientOptions } from "./config";
import { type IncomingMessage, type SlackDeps, handleMessage, threadKeyOf } from "./conversation";
import { ACTION_HOME_DEFAULT_REPOSITORY, ACTION_PICK_REPOSITORY, ACTION_STOP, HOME_DEFAULT_BLOCK_PREFIX } from "./messages";
import { ACTION_HOME_MODEL, HOME_MODEL_BLOCK_PREFIX } from "./preferences";
import { WorkerReceiver } from "./receiver";
import { slackSdk } from "./sdk";
import { SlackStore, type SlackWorkspace } from "./store";

/**
 * A Bolt `App` for one request. Built per request because an App holds I/O objects a later request
 * may not touch in workerd; `authorize` answers from the stored workspace, so no network call runs
 * before Bolt acknowledges the request.
 */
export async function slackAppFor(
  env: Env,
  config: SlackConfig,
  workspace: SlackWorkspace,
): Promise<{ app: App; receiver: WorkerReceiver }> {
  const { App, LogLevel } = await slackSdk();
  const receiver = new WorkerReceiver();
  const app = new App({
    receiver,
    authorize: () =>
      Promise.resolve({
        botToken: config.botToken,
        botUserId: workspace.botUserId,
        ...(workspace.botId ? { botId: workspace.botId } : {}),
        teamId: workspace.teamId,
      }),
    clientOptions: slackClientOptions(env, config),
    tokenVerificationEnabled: false,
    ignoreSelf: true,
    logger: boltLogger(LogLevel.INFO),
  });
  register(app, env, config, workspace);
  return { app, receiver };
}

function register(app: App, env: Env, config: SlackConfig, workspace: SlackWorkspace): void {
  const deps = (client: SlackClient["web"]): SlackDeps => ({ env, config, workspace, client: new SlackClient(client) });

  app.event("app_mention", async ({ event, client }) => {
    if (!event.user || ("bot_id" in event && event.bot_id)) return;
    await handleMessage(deps(client), {
      teamId: workspace.teamId,
      channelId: event.channel,
      user: event.user,
      text: event.text,
      ts: event.ts,
      threadTs: event.thread_ts ?? null,
    });
  });

  // DMs to the bot, and (with SLACK_THREAD_REPLIES=any) any reply in a thread Lookout owns.
  app.message(async ({ message, client }) => {
    if (message.subtype !== undefined || !("user" in message) || !message.user || message.bot_id) return;
    const incoming: IncomingMessage = {
      teamId: workspace.teamId,
      channelId: message.channel,
      user: message.user,
      text: message.text ?? "",
      ts: message.ts,
      threadTs: message.thread_ts ?? null,
    };
    if (message.channel_type !== "im") {
      // A reply that mentions the bot arrives as `app_mention` too; that one handles it.
      if (config.threadReplies !== "any" || !incoming.threadTs || incoming.text.includes(`<@${workspace.botUserId}>`)) return;
      if (!(await new SlackStore(env.DB).thread(threadKeyOf(incoming)))) return;
    }
    await handleMessage(deps(client), incoming);
  });

  app.action(ACTION_STOP, async ({ ack, body, action, client }) => {
    await ack();
    if (body.type !== "block_actions" || action.type !== "button" || !action.value || !body.channel || !body.message) return;
    const threadTs = stringField(body.message, "thread_ts") ?? stringField(body.message, "ts");
    if (!threadTs) return;
    await stopFromButton(deps(client), { teamId: workspace.teamId, channelId: body.channel.id, threadTs }, action.value, body.user.id);
  });

  app.action(ACTION_PICK_REPOSITORY, async ({ ack, body, action, client }) => {
    await ack();
    if (body.type !== "block_actions" || action.type !== "static_select" || !body.channel || !body.message) return;
    const threadTs = stringField(body.message, "thread_ts") ?? stringField(body.message, "ts");
    if (!threadTs) return;
    const key = { teamId: workspace.teamId, channelId: body.channel.id, threadTs };
    await pickRepository(deps(client), key, action.selected_option.value, body.user.id, Date.now());
  });

  app.event("app_home_opened", async ({ event, client }) => {
    if (event.tab !== "home") return;
    await publishHome(deps(client), event.user, event.channel || null);
  });

  app.action(ACTION_HOME_DEFAULT_REPOSITORY, async ({ ack, body, action, client }) => {
    await ack();
    if (body.type !== "block_actions" || action.type !== "static_select" || !action.block_id.startsWith(HOME_DEFAULT_BLOCK_PREFIX)) return;
    const dmChannelId = action.block_id.slice(HOME_DEFAULT_BLOCK_PREFIX.length);
    await setHomeDefault(deps(client), body.user.id, dmChannelId, action.selected_option.value);
  });

  app.action(ACTION_HOME_MODEL, async ({ ack, body, action, client }) => {
    await ack();
    if (body.type !== "block_actions" || action.type !== "static_select" || !action.block_id.startsWith(HOME_MODEL_BLOCK_PREFIX)) return;
    const dmChannelId = action.block_id.slice(HOME_MODEL_BLOCK_PREFIX.length) || null;
    await setHomeModel(deps(client), body.user.id, dmChannelId, action.selected_option.value);
  });

  app.command("/lookout", async ({ ack, command, client }) => {
    await ack();
    await deps(client).client.ephemeral(
      command.channel_id,
      command.user_id,
      await slashCommand(deps(client), command.channel_id, command.text),
    );
  });
}

function stringField(value: object, field: string): string | null {
  const found: unknown = (value as Record<string, unknown>)[field];
  return typeof found === "string" && found ? found : null;
}

/** Bolt's own log lines, through the Worker's structured log (`level` is Bolt's own enum's INFO). */
const boltLogger = (level: LogLevel): Logger => ({
  debug: () => {},
  info: (...message: unknown[]) => log.info("bolt", { message }),
  warn: (...message: unknown[]) => log.warn("bolt", { message }),
  error: (...message: unknown[]) => log.error("bolt", { message }),
  setLevel: () => {},
  getLevel: () => level,
  setName: () => {},
});
