import { LookoutError, type PutSlackCredentialsRequest } from "@lookout/protocol";
import type { Env } from "../../env";
import { slackErrorCode } from "./client";
import { slackApiUrl, slackClientOptions } from "./config";
import { SlackCredentialStore, type StoredSlackCredentials } from "./credentials";
import { slackSdk } from "./sdk";
import { SlackStore } from "./store";

/**
 * Stores tokens pasted in the dashboard, once Slack has vouched for them: `auth.test` with the bot
 * token names the workspace and bot, which are remembered as the connected workspace (a bot token
 * belongs to exactly one, so any other workspace recorded before is forgotten). A token Slack
 * refuses is `SLACK_TOKEN_REJECTED` and nothing is stored.
 */
export async function storeCredentials(
  env: Env,
  request: PutSlackCredentialsRequest,
  updatedBy: string,
  now: number,
): Promise<StoredSlackCredentials> {
  const { webApi } = await slackSdk();
  const web = new webApi.WebClient(request.botToken, slackClientOptions(env, { apiUrl: slackApiUrl(env) }));
  let result: Awaited<ReturnType<typeof web.auth.test>>;
  try {
    result = await web.auth.test();
  } catch (error) {
    const code = slackErrorCode(error);
    if (code === null) throw error;
    throw new LookoutError("SLACK_TOKEN_REJECTED", `Slack refused the bot token (auth.test answered ${code}); nothing was stored.`);
  }
  if (!result.team_id || !result.user_id) {
    throw new LookoutError(
      "SLACK_TOKEN_REJECTED",
      "Slack's auth.test named no workspace or bot user for this token; use a bot token (xoxb-…).",
    );
  }
  const workspace = {
    teamId: result.team_id,
    teamName: result.team ?? result.team_id,
    botUserId: result.user_id,
    botId: result.bot_id ?? null,
    botName: result.user ?? "lookout",
  };
  const stored = await SlackCredentialStore.fromEnv(env).save(
    { botToken: request.botToken, signingSecret: request.signingSecret, appToken: request.appToken ?? null },
    workspace,
    updatedBy,
    now,
  );
  const slack = new SlackStore(env.DB);
  await slack.forgetWorkspacesOtherThan(workspace.teamId);
  await slack.saveWorkspace({ ...workspace, connectedAt: now });
  return stored;
}
