import type { Context } from "hono";
import { Hono } from "hono";
import {
  LookoutError,
  PutSlackChannelDefaultRequest,
  PutSlackCredentialsRequest,
  SlackChannelId,
  type SlackRelayCredentials,
  SlackSocketEnvelope,
  type SlackSettingsView,
} from "@lookout/protocol";
import { requireAdmin, requireAuth } from "../auth/middleware";
import { RepositoryStore } from "../db/repositories";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { requireSigningSecret, slackConfig, slackStatus } from "../integrations/slack/config";
import { SlackCredentialStore } from "../integrations/slack/credentials";
import { storeCredentials } from "../integrations/slack/credentials-check";
import { type SlackAnswer, connectWorkspace, ingestSlack } from "../integrations/slack/ingest";
import { verifySlackHttpRequest } from "../integrations/slack/request";
import { SlackStore } from "../integrations/slack/store";
import { actingAuthor } from "./session-access";

/** The service name the Socket Mode relay signs its requests with (`SERVICE_SECRET_SLACK_RELAY`). */
export const SLACK_RELAY_SERVICE = "slack-relay";

/**
 * `/api/slack` (mounted before `requireAuth`). `events`, `interactions` and `commands` are Slack's
 * request URLs: each verifies `X-Slack-Signature` over the raw body itself. `socket` is the Socket
 * Mode relay's hand-off, a signed service request, and `relay` tells the relay how to connect.
 * Settings sign in like every other `/api` route; tokens are pasted (and removed) by admins only,
 * and never come back out of `/api/slack/credentials`.
 */
export const slackRoutes = new Hono<AppEnv>();

slackRoutes.post("/events", (c) => receiveHttp(c));
slackRoutes.post("/interactions", (c) => receiveHttp(c));
slackRoutes.post("/commands", (c) => receiveHttp(c));

slackRoutes.post("/socket", requireAuth, async (c) => {
  requireRelay(c, "forwards Socket Mode envelopes");
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

/** The relay asks at start whether Slack is set up for Socket Mode, and for the app-level token stored in the dashboard. */
slackRoutes.get("/relay", requireAuth, async (c) => {
  requireRelay(c, "reads the Socket Mode settings");
  const status = await slackStatus(c.env);
  const stored = status.source === "dashboard" && status.mode === "socket" ? await SlackCredentialStore.fromEnv(c.env).open() : null;
  const body: SlackRelayCredentials = { mode: status.source ? status.mode : null, appToken: stored?.appToken ?? null };
  return c.json(body);
});

/**
 * Tokens pasted in the dashboard: checked with Slack (`auth.test`) before anything is stored, then
 * sealed. Answers with the settings, which describe the tokens without them.
 */
slackRoutes.put("/credentials", requireAuth, requireAdmin, async (c) => {
  const request = await readJson(c, PutSlackCredentialsRequest);
  await storeCredentials(c.env, request, actingAuthor(c.get("principal")).userId, Date.now());
  return c.json({ settings: await settingsView(c.env) });
});

/** Forgets the pasted tokens; unless the environment has its own, Slack requests are refused from now on. */
slackRoutes.delete("/credentials", requireAuth, requireAdmin, async (c) => {
  await SlackCredentialStore.fromEnv(c.env).remove();
  return c.json({ settings: await settingsView(c.env) });
});

/** Asks Slack which workspace the bot token belongs to (`auth.test`) and remembers it. */
slackRoutes.post("/connect", requireAuth, requireAdmin, async (c) => {
  await connectWorkspace(c.env, await slackConfig(c.env));
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
  const config = await slackConfig(c.env);
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
  const status = await slackStatus(env);
  return {
    configured: status.configured,
    missing: status.missing,
    mode: status.mode,
    source: status.source,
    storedCredentials: status.stored
      ? {
          botTokenLast4: status.stored.botTokenLast4,
          appTokenLast4: status.stored.appTokenLast4,
          teamId: status.stored.teamId,
          teamName: status.stored.teamName,
          botName: status.stored.botName,
          updatedAt: status.stored.updatedAt,
        }
      : null,
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

function requireRelay(c: Context<AppEnv>, what: string): void {
  const principal = c.get("principal");
  if (principal.kind !== "service" || principal.service !== SLACK_RELAY_SERVICE) {
    throw new LookoutError("FORBIDDEN", `Only the Slack relay (service ${SLACK_RELAY_SERVICE}) ${what}.`);
  }
}
