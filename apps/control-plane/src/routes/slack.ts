import type { Context } from "hono";
import { Hono } from "hono";
import {
  LookoutError,
  PutSlackChannelDefaultRequest,
  SlackChannelId,
  SlackSocketEnvelope,
  type SlackSettingsView,
} from "@lookout/protocol";
import { requireAdmin, requireAuth } from "../auth/middleware";
import { RepositoryStore } from "../db/repositories";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { missingSlackSettings, requireSigningSecret, slackConfig, slackMode } from "../integrations/slack/config";
import { type SlackAnswer, connectWorkspace, ingestSlack } from "../integrations/slack/ingest";
import { verifySlackHttpRequest } from "../integrations/slack/request";
import { SlackStore } from "../integrations/slack/store";

/** The service name the Socket Mode relay signs its requests with (`SERVICE_SECRET_SLACK_RELAY`). */
export const SLACK_RELAY_SERVICE = "slack-relay";

/**
 * `/api/slack` (mounted before `requireAuth`). `events`, `interactions` and `commands` are Slack's
 * request URLs: each verifies `X-Slack-Signature` over the raw body itself. `socket` is the Socket
 * Mode relay's hand-off, a signed service request. Settings sign in like every other `/api` route.
 */
export const slackRoutes = new Hono<AppEnv>();

slackRoutes.post("/events", (c) => receiveHttp(c));
slackRoutes.post("/interactions", (c) => receiveHttp(c));
slackRoutes.post("/commands", (c) => receiveHttp(c));

slackRoutes.post("/socket", requireAuth, async (c) => {
  const principal = c.get("principal");
  if (principal.kind !== "service" || principal.service !== SLACK_RELAY_SERVICE) {
    throw new LookoutError("FORBIDDEN", `Only the Slack relay (service ${SLACK_RELAY_SERVICE}) forwards Socket Mode envelopes.`);
  }
  const envelope = await readJson(c, SlackSocketEnvelope);
  const answer = await ingestSlack(c.env, (work) => c.executionCtx.waitUntil(work), {
    body: envelope.payload,
    ...(envelope.retryAttempt !== undefined ? { retryNum: envelope.retryAttempt } : {}),
    ...(envelope.retryReason !== undefined ? { retryReason: envelope.retryReason } : {}),
  });
  return c.json({
    ok: true,
    envelopeId: envelope.envelopeId,
    answer: answer.kind,
    ...(answer.kind === "ignored" ? { reason: answer.reason } : {}),
  });
});

slackRoutes.get("/settings", requireAuth, async (c) => c.json({ settings: await settingsView(c.env) }));

/** Asks Slack which workspace the bot token belongs to (`auth.test`) and remembers it. */
slackRoutes.post("/connect", requireAuth, requireAdmin, async (c) => {
  await connectWorkspace(c.env, slackConfig(c.env));
  return c.json({ settings: await settingsView(c.env) });
});

slackRoutes.put("/channels/:channelId", requireAuth, requireAdmin, async (c) => {
  const channel = SlackChannelId.safeParse(c.req.param("channelId"));
  if (!channel.success) throw new LookoutError("VALIDATION_FAILED", "The channel is a Slack channel id such as C0123ABCD.");
  const { repositoryId } = await readJson(c, PutSlackChannelDefaultRequest);
  await new RepositoryStore(c.env.DB).getOrThrow(repositoryId);
  const store = new SlackStore(c.env.DB);
  const workspace = await store.anyWorkspace();
  if (!workspace)
    throw new LookoutError("SERVICE_NOT_CONFIGURED", "Connect Slack first (Settings → Slack → Connect), then set channel defaults.");
  await store.setChannelDefault({ teamId: workspace.teamId, channelId: channel.data, repositoryId, updatedAt: Date.now() });
  return c.json({ settings: await settingsView(c.env) });
});

async function receiveHttp(c: Context<AppEnv>): Promise<Response> {
  const config = slackConfig(c.env);
  const verified = await verifySlackHttpRequest(requireSigningSecret(config), c.req.raw, Date.now());
  return answerSlack(c, await ingestSlack(c.env, (work) => c.executionCtx.waitUntil(work), verified));
}

function answerSlack(c: Context<AppEnv>, answer: SlackAnswer): Response {
  if (answer.kind === "challenge") return c.json({ challenge: answer.challenge });
  // An ignored request is still answered 200: a refusal status would only make Slack retry it.
  if (answer.kind === "ignored") return c.json({ ok: false, ignored: answer.reason });
  if (answer.body === null) return c.body(null, 200);
  return typeof answer.body === "string" ? c.text(answer.body) : c.json(answer.body);
}

async function settingsView(env: Env): Promise<SlackSettingsView> {
  const store = new SlackStore(env.DB);
  const workspace = await store.anyWorkspace();
  const missing = missingSlackSettings(env);
  return {
    configured: missing.length === 0,
    missing,
    mode: slackMode(env),
    workspace: workspace
      ? {
          teamId: workspace.teamId,
          teamName: workspace.teamName,
          botUserId: workspace.botUserId,
          botName: workspace.botName,
          connectedAt: workspace.connectedAt,
        }
      : null,
    threadReplies: env.SLACK_THREAD_REPLIES === "any" ? "any" : "mention",
    channelDefaults: await store.channelDefaults(),
  };
}
