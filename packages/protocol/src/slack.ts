import { z } from "zod";
import { Id } from "./common.ts";

/** How Slack reaches Lookout: Socket Mode through the local relay, or Events API over HTTPS. */
export const SlackMode = z.enum(["socket", "http"]);
export type SlackMode = z.infer<typeof SlackMode>;

/** A Slack channel id (`C…` public, `G…` private, `D…` a DM). */
export const SlackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,30}$/, "a Slack channel id such as C0123ABCD");

/** What the dashboard's Slack settings page shows. Tokens are never returned, only whether they are set. */
export const SlackSettingsView = z.object({
  /** Both the bot token and the signing secret (HTTP) or the relay (Socket Mode) are configured. */
  configured: z.boolean(),
  /** What is missing, by the name to set, when not configured. */
  missing: z.array(z.string()),
  mode: SlackMode,
  /** The workspace and bot as `auth.test` reported them; null until the first event or a connect. */
  workspace: z
    .object({
      teamId: z.string(),
      teamName: z.string(),
      botUserId: z.string(),
      botName: z.string(),
      connectedAt: z.number(),
    })
    .nullable(),
  /** Whether replies in a thread Lookout owns need to mention it (`mention`) or not (`any`). */
  threadReplies: z.enum(["mention", "any"]),
  channelDefaults: z.array(z.object({ teamId: z.string(), channelId: z.string(), repositoryId: Id, updatedAt: z.number() })),
});
export type SlackSettingsView = z.infer<typeof SlackSettingsView>;

/** `PUT /api/slack/channels/:channelId`: the repository a channel's mentions use unless they name one. */
export const PutSlackChannelDefaultRequest = z.object({ repositoryId: Id }).strict();
export type PutSlackChannelDefaultRequest = z.infer<typeof PutSlackChannelDefaultRequest>;

/**
 * One Socket Mode envelope forwarded by the relay (`POST /api/slack/socket`, a signed service
 * request): the relay has acknowledged it to Slack already; the Worker runs it through the same
 * ingest as an Events API delivery.
 */
export const SlackSocketEnvelope = z.object({
  envelopeId: z.string().min(1).max(200),
  type: z.enum(["events_api", "interactive", "slash_commands"]),
  payload: z.record(z.string(), z.unknown()),
  retryAttempt: z.number().int().nonnegative().optional(),
  retryReason: z.string().max(200).optional(),
});
export type SlackSocketEnvelope = z.infer<typeof SlackSocketEnvelope>;
