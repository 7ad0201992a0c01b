import { type Context, Hono } from "hono";
import { type LinearSettingsView, LookoutError, PutLinearMappingsRequest, sha256Hex } from "@lookout/protocol";
import { z } from "zod";
import { requireAdmin, requireAuth } from "../auth/middleware";
import { RepositoryStore } from "../db/repositories";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { readJson } from "../http/validate";
import { log } from "../log";
import { handleAgentSessionEvent, subjectOf } from "../integrations/linear/agent";
import { LinearAgent } from "../integrations/linear/client";
import { LINEAR_AUTHORIZE_URL, LINEAR_SCOPES, LinearInstallations, exchangeToken, oauthClient } from "../integrations/linear/installations";
import { LinearStore } from "../integrations/linear/store";
import { MAX_LINEAR_BODY_BYTES, requireInstalledWorkspace, verifyLinearDelivery } from "../integrations/linear/webhook";
import { acceptDelivery, recordRefusedDelivery } from "../triggers/dispatch";
import type { TriggerEvent } from "../triggers/types";
import { readCappedBody } from "../triggers/webhook-request";

/** What recording a delivery needs besides its ids; the event itself is built once it is handled. */
const NO_CONTENT: Omit<TriggerEvent, "deliveryId" | "dedupeKey"> = {
  source: "linear",
  actor: null,
  repositoryHint: null,
  instructions: null,
  untrusted: [],
};

/**
 * `/api/linear` (mounted before `requireAuth`). The webhook is public and verifies Linear's
 * signature itself, records the delivery, answers at once (Linear waits 5 s at most) and acts under
 * `waitUntil`. The settings and the OAuth install sign in like every other `/api` route; changing
 * them is for admins.
 */
export const linearRoutes = new Hono<AppEnv>();

linearRoutes.post("/webhook", async (c) => {
  const now = Date.now();
  const claimed = c.req.header("linear-delivery")?.trim().slice(0, 200) || null;
  let body: Uint8Array;
  let delivery: ReturnType<typeof verifyLinearDelivery>;
  try {
    body = await readCappedBody(c.req.raw, MAX_LINEAR_BODY_BYTES);
    delivery = verifyLinearDelivery(c.env, body, c.req.header("linear-signature") ?? null);
  } catch (error) {
    if (error instanceof LookoutError) {
      await recordRefusedDelivery(
        c.env,
        null,
        { source: "linear", deliveryId: claimed ?? "(none)", dedupeKey: null },
        `${error.code}: ${error.message}`,
        now,
      ).catch((recordError: unknown) => log.error("a refused Linear delivery could not be recorded", { error: recordError }));
    }
    throw error;
  }
  if (delivery.kind === "ignored") return c.json({ ok: true, ignored: delivery.type }, 200);
  const { event } = delivery;
  await requireInstalledWorkspace(c.env, event.organizationId);
  // Linear names each delivery in `Linear-Delivery`; identical bytes without one are the same delivery.
  const deliveryId = claimed ?? `body:${(await sha256Hex(new TextDecoder().decode(body))).slice(0, 40)}`;
  const accepted = await acceptDelivery(c.env, null, { ...NO_CONTENT, deliveryId, dedupeKey: subjectOf(event.agentSession.id) }, now);
  if (accepted.status === "replayed") return c.json({ ok: true, deliveryId, duplicate: true }, 200);
  c.executionCtx.waitUntil(handleAgentSessionEvent(c.env, event, { deliveryId, accepted, now }));
  return c.json({ ok: true, deliveryId, duplicate: false }, 200);
});

linearRoutes.get("/settings", requireAuth, async (c) => {
  const view: LinearSettingsView = {
    connections: await new LinearInstallations(c.env).list(),
    webhookUrl: `${publicUrl(c.env)}/api/linear/webhook`,
    installUrl: c.env.LINEAR_CLIENT_ID && c.env.LINEAR_CLIENT_SECRET ? `${publicUrl(c.env)}/api/linear/install` : null,
    rules: await new LinearStore(c.env.DB).rules(),
  };
  return c.json({ settings: view });
});

linearRoutes.put("/mappings", requireAuth, requireAdmin, async (c) => {
  const request = await readJson(c, PutLinearMappingsRequest);
  const repositories = new RepositoryStore(c.env.DB);
  for (const rule of request.rules) {
    if (!(await repositories.get(rule.repositoryId))) {
      throw new LookoutError(
        "REPOSITORY_NOT_FOUND",
        `The ${rule.kind} rule "${rule.value}" names repository ${rule.repositoryId}, which is not registered.`,
      );
    }
  }
  const store = new LinearStore(c.env.DB);
  await store.replaceRules(request.rules, Date.now());
  return c.json({ rules: await store.rules() });
});

linearRoutes.delete("/connections/:organizationId", requireAuth, requireAdmin, async (c) => {
  if (!(await new LinearInstallations(c.env).remove(c.req.param("organizationId")))) {
    throw new LookoutError("NOT_FOUND", "No Linear workspace with this id is connected.");
  }
  return c.body(null, 204);
});

/** Sends an admin to Linear to install Lookout as an app in their workspace. */
linearRoutes.get("/install", requireAuth, requireAdmin, async (c) => {
  const { clientId } = oauthClient(c.env);
  const state = await new LinearInstallations(c.env).newState(userIdOf(c), Date.now());
  const url = new URL(c.env.LINEAR_AUTHORIZE_URL ?? LINEAR_AUTHORIZE_URL);
  url.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri(c.env),
    response_type: "code",
    scope: LINEAR_SCOPES.join(","),
    actor: "app",
    state,
  }).toString();
  return c.redirect(url.toString(), 302);
});

const Callback = z.object({ code: z.string().min(1).max(2000), state: z.string().min(1).max(200) });

/** Linear sends the admin back here with a code; the tokens are stored sealed and the settings page shown. */
linearRoutes.get("/oauth/callback", requireAuth, requireAdmin, async (c) => {
  const parsed = Callback.safeParse({ code: c.req.query("code"), state: c.req.query("state") });
  if (!parsed.success) throw new LookoutError("BAD_REQUEST", "Linear's redirect carries a code and a state; start the install again.");
  const now = Date.now();
  const installations = new LinearInstallations(c.env);
  if (!(await installations.consumeState(parsed.data.state, userIdOf(c), now))) {
    throw new LookoutError("INVALID_TOKEN", "This install link was used, expired, or started by someone else; start the install again.");
  }
  const tokens = await exchangeToken(c.env, { grant_type: "authorization_code", code: parsed.data.code, redirect_uri: redirectUri(c.env) });
  const who = await (await LinearAgent.withToken(c.env, tokens.access_token)).installation();
  await installations.save(
    {
      organizationId: who.organization.id,
      organizationName: who.organization.name,
      appUserId: who.viewer.id,
      tokens,
      installedBy: userIdOf(c),
    },
    now,
  );
  return c.redirect("/settings/linear", 302);
});

function publicUrl(env: Env): string {
  return env.PUBLIC_URL.replace(/\/+$/, "");
}

function redirectUri(env: Env): string {
  return `${publicUrl(env)}/api/linear/oauth/callback`;
}

function userIdOf(c: Context<AppEnv>): string {
  const principal = c.get("principal");
  if (principal.kind !== "user") throw new LookoutError("FORBIDDEN", "Installing Linear is done by a signed-in person in a browser.");
  return principal.user.id;
}
