import type { Context } from "hono";
import { Hono } from "hono";
import {
  type Automation,
  Id,
  LookoutError,
  PutSentrySettingsRequest,
  PutWebhookSettingsRequest,
  type SentrySettingsView,
  TestWebhookRequest,
  type TriggerAck,
  type WebhookKeyResponse,
  type WebhookSettingsView,
} from "@lookout/protocol";
import { requireAuth } from "../auth/middleware";
import { AutomationStore } from "../db/automations";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { log } from "../log";
import { actorOf, assertCanChange } from "../triggers/automations";
import { acceptDelivery, processDelivery, recordRefusedDelivery } from "../triggers/dispatch";
import { receiveSentryDelivery } from "../triggers/sentry";
import { SentrySettingsStore } from "../triggers/sentry-settings";
import { testWebhookPayload, receiveWebhookDelivery } from "../triggers/webhook";
import { WEBHOOK_KEY_HEADER } from "../triggers/webhook-key";
import type { Intake } from "../triggers/webhook-request";
import { type WebhookSettings, WebhookSettingsStore } from "../triggers/webhook-settings";

type TriggerKind = "sentry" | "webhook";
type Receive = (env: Env, automation: Automation, request: Request, now: number) => Promise<Intake>;

/**
 * `/api/triggers` (mounted before `requireAuth`). The two delivery endpoints are public and verify
 * their sender themselves — Sentry by `Sentry-Hook-Signature`, inbound webhooks by the automation's
 * key — then record the delivery, answer 202 and do the work under `waitUntil`, so a sandbox
 * starting never delays the answer. The settings endpoints sign in like every other `/api` route:
 * anyone signed in reads them; whoever may change the automation (`assertCanChange`) changes them.
 */
export const triggerWebhookRoutes = new Hono<AppEnv>();

triggerWebhookRoutes.post("/sentry/:automationId", (c) => receive(c, "sentry", receiveSentryDelivery));
triggerWebhookRoutes.post("/webhooks/:automationId", (c) => receive(c, "webhook", receiveWebhookDelivery));

triggerWebhookRoutes.get("/sentry/:automationId/settings", requireAuth, async (c) => {
  const automation = await automationFor(c.env, c.req.param("automationId"), "sentry");
  const summary = await SentrySettingsStore.fromEnv(c.env).summary(automation.id);
  const view: SentrySettingsView = {
    automationId: automation.id,
    url: deliveryUrl(c.env, "sentry", automation.id),
    clientSecretSet: summary !== null,
    conditions: summary?.conditions ?? { resources: [], projects: [], environments: [], levels: [] },
    updatedAt: summary?.updatedAt ?? automation.updatedAt,
  };
  return c.json({ settings: view });
});

triggerWebhookRoutes.put("/sentry/:automationId/settings", requireAuth, async (c) => {
  const automation = await automationFor(c.env, c.req.param("automationId"), "sentry");
  assertCanChange(await actorOf(c.env, c.get("principal")), automation);
  const request = await readJson(c, PutSentrySettingsRequest);
  const summary = await SentrySettingsStore.fromEnv(c.env).put(automation.id, request);
  const view: SentrySettingsView = {
    automationId: automation.id,
    url: deliveryUrl(c.env, "sentry", automation.id),
    clientSecretSet: true,
    conditions: summary.conditions,
    updatedAt: summary.updatedAt,
  };
  return c.json({ settings: view });
});

triggerWebhookRoutes.get("/webhooks/:automationId/settings", requireAuth, async (c) => {
  const automation = await automationFor(c.env, c.req.param("automationId"), "webhook");
  return c.json({ settings: webhookView(c.env, await new WebhookSettingsStore(c.env.DB).get(automation.id)) });
});

triggerWebhookRoutes.put("/webhooks/:automationId/settings", requireAuth, async (c) => {
  const automation = await automationFor(c.env, c.req.param("automationId"), "webhook");
  assertCanChange(await actorOf(c.env, c.get("principal")), automation);
  const request = await readJson(c, PutWebhookSettingsRequest);
  return c.json({ settings: webhookView(c.env, await new WebhookSettingsStore(c.env.DB).put(automation.id, request)) });
});

/** Issues the automation's key, or a new one in place of the old: the answer is the only time it is shown. */
triggerWebhookRoutes.post("/webhooks/:automationId/key", requireAuth, async (c) => {
  const automation = await automationFor(c.env, c.req.param("automationId"), "webhook");
  assertCanChange(await actorOf(c.env, c.get("principal")), automation);
  const { key, createdAt } = await new WebhookSettingsStore(c.env.DB).issueKey(automation.id);
  const body: WebhookKeyResponse = { key, url: deliveryUrl(c.env, "webhook", automation.id), header: WEBHOOK_KEY_HEADER, createdAt };
  c.header("cache-control", "no-store");
  return c.json(body, 201);
});

/** Evaluates a sample delivery against the saved settings; nothing is started or recorded. */
triggerWebhookRoutes.post("/webhooks/:automationId/test", requireAuth, async (c) => {
  const automation = await automationFor(c.env, c.req.param("automationId"), "webhook");
  const request = await readJson(c, TestWebhookRequest);
  const settings = await new WebhookSettingsStore(c.env.DB).get(automation.id);
  return c.json(testWebhookPayload(settings, request.payload, request.headers));
});

async function receive(c: Context<AppEnv>, kind: TriggerKind, intake: Receive): Promise<Response> {
  const now = Date.now();
  let automation: Automation | null = null;
  let received: Intake;
  try {
    automation = await automationFor(c.env, c.req.param("automationId") ?? "", kind);
    received = await intake(c.env, automation, c.req.raw, now);
  } catch (error) {
    await refuse(c.env, automation?.id ?? null, kind, claimedDeliveryId(c.req.raw.headers, kind), error, now);
    throw error;
  }
  const accepted = await acceptDelivery(c.env, automation, received.event, now);
  const ack: TriggerAck = { ok: true, deliveryId: received.deliveryId, duplicate: accepted.status === "replayed" };
  if (accepted.status === "replayed") return c.json(ack, 200);
  const verified = automation;
  c.executionCtx.waitUntil(
    processDelivery(c.env, verified, received.event, accepted).catch((error: unknown) =>
      log.error("a trigger delivery failed in the background", { source: kind, automationId: verified.id, error }),
    ),
  );
  return c.json(ack, 202);
}

/** Records a refused delivery (its reason is the refusal's code and message); errors that are bugs are not recorded. */
async function refuse(
  env: Env,
  automationId: string | null,
  source: TriggerKind,
  deliveryId: string,
  error: unknown,
  now: number,
): Promise<void> {
  if (!(error instanceof LookoutError)) return;
  const reason = `${error.code}: ${error.message}`;
  await recordRefusedDelivery(env, automationId, { source, deliveryId, dedupeKey: null }, reason, now).catch((recordError: unknown) =>
    log.error("a refused trigger delivery could not be recorded", { source, automationId, error: recordError }),
  );
}

/** The id the sender claims for a delivery, kept on its refusal record (a refusal never holds it). */
function claimedDeliveryId(headers: Headers, kind: TriggerKind): string {
  const claimed = kind === "sentry" ? headers.get("request-id") : (headers.get("idempotency-key") ?? headers.get("webhook-id"));
  return claimed?.trim().slice(0, 200) || "(none)";
}

/** The automation behind a trigger URL; one that does not exist or has another trigger is `AUTOMATION_NOT_FOUND`. */
async function automationFor(env: Env, automationId: string, kind: TriggerKind): Promise<Automation> {
  const automation = Id.safeParse(automationId).success ? await new AutomationStore(env.DB).get(automationId) : null;
  if (!automation || automation.trigger.kind !== kind) {
    throw new LookoutError("AUTOMATION_NOT_FOUND", `No ${kind === "sentry" ? "Sentry" : "webhook"} automation has this id.`);
  }
  return automation;
}

function deliveryUrl(env: Env, kind: TriggerKind, automationId: string): string {
  return `${env.PUBLIC_URL.replace(/\/+$/, "")}/api/triggers/${kind === "sentry" ? "sentry" : "webhooks"}/${automationId}`;
}

function webhookView(env: Env, settings: WebhookSettings): WebhookSettingsView {
  return {
    automationId: settings.automationId,
    url: deliveryUrl(env, "webhook", settings.automationId),
    keySet: settings.keyHash !== null,
    keyCreatedAt: settings.keyCreatedAt,
    conditions: settings.conditions,
    idempotency: settings.idempotency,
    template: settings.template,
    updatedAt: settings.updatedAt,
  };
}
