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
  /** Where the tokens in use come from: the environment wins over the dashboard; null while neither has them. */
  source: z.enum(["environment", "dashboard"]).nullable(),
  /**
   * Tokens pasted in the dashboard, described without the tokens: only their last four characters.
   * Shown even while the environment's tokens win.
   */
  storedCredentials: z
    .object({
      botTokenLast4: z.string(),
      appTokenLast4: z.string().nullable(),
      teamId: z.string(),
      teamName: z.string(),
      botName: z.string(),
      updatedAt: z.number(),
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

/** A bot token as Slack issues it (OAuth & Permissions → Bot User OAuth Token). */
export const SlackBotToken = z.string().regex(/^xoxb-[A-Za-z0-9-]{10,250}$/, "a bot token starting with xoxb-");
/** An app-level token (Basic Information → App-Level Tokens, scope `connections:write`). */
export const SlackAppToken = z.string().regex(/^xapp-[A-Za-z0-9-]{10,250}$/, "an app-level token starting with xapp-");
/** The app's signing secret (Basic Information → App Credentials): 32 hexadecimal characters. */
export const SlackSigningSecret = z.string().regex(/^[0-9a-fA-F]{32}$/, "the 32 hexadecimal characters of the app's signing secret");

/**
 * `PUT /api/slack/credentials` (admins): tokens pasted in Settings → Slack. Checked with Slack
 * (`auth.test`) before they are stored, sealed. With an app-level token Slack reaches Lookout in
 * Socket Mode through the relay; without one, over the Events API.
 */
export const PutSlackCredentialsRequest = z
  .object({
    botToken: z.string().trim().pipe(SlackBotToken),
    signingSecret: z.string().trim().pipe(SlackSigningSecret),
    appToken: z.string().trim().pipe(SlackAppToken).optional(),
  })
  .strict();
export type PutSlackCredentialsRequest = z.infer<typeof PutSlackCredentialsRequest>;

/**
 * `GET /api/slack/relay` (the relay's signed service request): whether Slack is set up for Socket
 * Mode, and the app-level token stored in the dashboard for the relay to connect with (null when
 * it comes from the relay's own environment or Slack uses the Events API).
 */
export const SlackRelayCredentials = z.object({
  mode: SlackMode.nullable(),
  appToken: z.string().nullable(),
});
export type SlackRelayCredentials = z.infer<typeof SlackRelayCredentials>;
