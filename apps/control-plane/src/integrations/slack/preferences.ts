import type { types } from "@slack/bolt";
import type { Env } from "../../env";
import { modelsFromEnv } from "../../routes/models";
import { SlackStore } from "./store";

/** App Home's model select. */
export const ACTION_HOME_MODEL = "lookout_home_model";
/** Its block id: this prefix, then the person's DM channel (if App Home named it), so the view can be published again whole. */
export const HOME_MODEL_BLOCK_PREFIX = "lookout_home_model:";
/** Slack's limit on a select's options. */
const MAX_OPTIONS = 100;

/**
 * The model a person's sessions from Slack (DMs and mentions) start with: the one they chose in
 * App Home while Lookout still offers it, else null (the deployment's default).
 */
export async function preferredModel(env: Env, teamId: string, userId: string): Promise<string | null> {
  const chosen = await new SlackStore(env.DB).preferredModel(teamId, userId);
  if (!chosen) return null;
  return modelsFromEnv(env).models.some((model) => model.id === chosen) ? chosen : null;
}

/**
 * Remembers a model chosen in App Home; false (and nothing stored) when Lookout does not offer it,
 * e.g. a select published before `MODELS` changed.
 */
export async function setPreferredModel(env: Env, teamId: string, userId: string, model: string): Promise<boolean> {
  if (!modelsFromEnv(env).models.some((offered) => offered.id === model)) return false;
  await new SlackStore(env.DB).setPreferredModel(teamId, userId, model, Date.now());
  return true;
}

/** App Home's model section: the models Lookout offers, the person's choice (or the default) selected. */
export function modelPreferenceBlocks(env: Env, chosen: string | null, dmChannelId: string | null): types.KnownBlock[] {
  const { models, defaultModel } = modelsFromEnv(env);
  const options = models.slice(0, MAX_OPTIONS).map((model) => ({
    text: { type: "plain_text" as const, text: `${model.label}${model.id === defaultModel ? " · default" : ""}`.slice(0, 75) },
    value: model.id,
  }));
  const current = options.find((option) => option.value === (chosen ?? defaultModel));
  return [
    {
      type: "section",
      block_id: `${HOME_MODEL_BLOCK_PREFIX}${dmChannelId ?? ""}`,
      text: { type: "mrkdwn", text: "Model for the sessions you start from Slack" },
      accessory: {
        type: "static_select",
        action_id: ACTION_HOME_MODEL,
        placeholder: { type: "plain_text", text: "Model" },
        options,
        ...(current ? { initial_option: current } : {}),
      },
    },
  ];
}
