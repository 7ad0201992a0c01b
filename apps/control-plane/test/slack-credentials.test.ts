import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { type SessionOutcome, type SlackSettingsView, signRequest } from "@lookout/protocol";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { app } from "../src/app";
import type { OutboxReport } from "../src/db/outbox-reports";
import type { Env } from "../src/env";
import { slackSink } from "../src/triggers/sinks/slack";
import { adminCookie, memberCookie, withCookie } from "./support/auth";
import { FAKE_SLACK } from "./support/fake-slack";
import { blockAction, newChannel, slackSignature } from "./support/slack";

const ORIGIN = "http://lookout.test";
const RELAY_SECRET = "test-slack-relay-secret";

/** Tokens as an admin pastes them: the bot token the fake Slack accepts, a signing secret of Slack's shape. */
const PASTED = {
  botToken: FAKE_SLACK.botToken,
  signingSecret: "0123456789abcdef0123456789abcdef",
  appToken: "xapp-1-A0LOOKOUT-1234567890-pastedapptoken9876",
};

/** The Worker with no Slack tokens in its environment: only what the dashboard stored can connect it. */
const NO_ENV_TOKENS: Partial<Env> = { SLACK_BOT_TOKEN: undefined, SLACK_SIGNING_SECRET: undefined };

let admin: string;
let member: string;

beforeAll(async () => {
  admin = await adminCookie();
  member = await memberCookie("slack-credentials-member");
});

afterEach(async () => {
  await env.DB.prepare("DELETE FROM slack_credentials").run();
});

async function call(path: string, init: RequestInit = {}, overrides: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(`${ORIGIN}${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function putCredentials(body: unknown, cookie = admin, overrides: Partial<Env> = {}): Promise<{ status: number; text: string }> {
  const response = await call("/api/slack/credentials", withCookie(cookie, "PUT", body), overrides);
  return { status: response.status, text: await response.text() };
}

async function storedRow(): Promise<Record<string, unknown> | null> {
  return env.DB.prepare("SELECT * FROM slack_credentials").first<Record<string, unknown>>();
}

/** A `url_verification` challenge signed with `secret`, as Slack sends it to the Events URL. */
async function challenge(secret: string, overrides: Partial<Env>): Promise<Response> {
  const body = JSON.stringify({ token: "unused", challenge: "prove-it", type: "url_verification" });
  const timestamp = String(Math.floor(Date.now() / 1000));
  return call(
    "/api/slack/events",
    {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": await slackSignature(secret, timestamp, body),
      },
      body,
    },
    overrides,
  );
}

async function relayRequest(method: "GET" | "POST", path: string, body = "", overrides: Partial<Env> = {}): Promise<Response> {
  const headers = await signRequest({ service: "slack-relay", method, pathAndQuery: path, body }, RELAY_SECRET);
  return call(
    path,
    { method, headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) }, body: body || null },
    overrides,
  );
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return (await response.json<{ error: { code: string; message: string } }>()).error;
}

describe("PUT /api/slack/credentials", () => {
  it("is for admins only: a member is refused and nothing is stored", async () => {
    const answer = await putCredentials(PASTED, member);
    expect(answer.status).toBe(403);
    expect(await storedRow()).toBeNull();
  });

  it("refuses tokens of the wrong shape, naming the field, and stores nothing", async () => {
    for (const bad of [
      { ...PASTED, botToken: "xoxp-a-user-token-not-a-bot-token" },
      { ...PASTED, signingSecret: "not-hex-and-too-short" },
      { ...PASTED, appToken: "xoxb-not-an-app-level-token" },
      { botToken: PASTED.botToken },
      { ...PASTED, extra: "field" },
    ]) {
      const answer = await putCredentials(bad);
      expect(answer.status, JSON.stringify(bad)).toBe(422);
      expect(JSON.parse(answer.text).error.code).toBe("VALIDATION_FAILED");
    }
    expect(await storedRow()).toBeNull();
  });

  it("refuses a bot token Slack's auth.test rejects, with SLACK_TOKEN_REJECTED, and stores nothing", async () => {
    const answer = await putCredentials({ ...PASTED, botToken: "xoxb-0000-revoked-or-mistyped-token" });
    expect(answer.status).toBe(400);
    const error = JSON.parse(answer.text).error;
    expect(error.code).toBe("SLACK_TOKEN_REJECTED");
    expect(error.message).toContain("invalid_auth");
    expect(await storedRow()).toBeNull();
  });

  it("seals the tokens at rest and never returns them: the row and every answer hold only their last four characters", async () => {
    const put = await putCredentials(PASTED);
    expect(put.status).toBe(200);
    const row = await storedRow();
    expect(row).not.toBeNull();
    const rowText = JSON.stringify(row);
    for (const token of Object.values(PASTED)) {
      expect(rowText).not.toContain(token);
      expect(put.text).not.toContain(token);
    }
    expect(row).toMatchObject({ bot_token_last4: PASTED.botToken.slice(-4), app_token_last4: PASTED.appToken.slice(-4) });
    expect(String(row!.key_version)).toBe("k2");

    const settings = (await (await call("/api/slack/settings", withCookie(admin))).json<{ settings: SlackSettingsView }>()).settings;
    expect(JSON.stringify(settings)).not.toContain(PASTED.botToken);
    expect(settings.storedCredentials).toMatchObject({
      botTokenLast4: PASTED.botToken.slice(-4),
      appTokenLast4: PASTED.appToken.slice(-4),
      teamId: FAKE_SLACK.teamId,
      teamName: FAKE_SLACK.teamName,
    });
    // The environment sets SLACK_BOT_TOKEN in these tests, and the environment wins.
    expect(settings.source).toBe("environment");
  });

  it("are re-sealed by POST /api/secrets/rotate, so the old key can be dropped", async () => {
    expect((await putCredentials(PASTED)).status).toBe(200);
    const newKey = btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => 200 - i)));
    const rotated = `k9:${newKey},${env.SECRETS_ENCRYPTION_KEYS}`;
    const rotate = await call("/api/secrets/rotate", withCookie(admin, "POST"), { SECRETS_ENCRYPTION_KEYS: rotated });
    expect(rotate.status).toBe(200);
    expect(await rotate.json()).toMatchObject({ keyVersion: "k9", failed: [] });
    expect((await storedRow())!.key_version).toBe("k9");

    // Only the new key left: the pasted signing secret still verifies.
    const onlyNewKey = { ...NO_ENV_TOKENS, SECRETS_ENCRYPTION_KEYS: `k9:${newKey}` };
    expect((await challenge(PASTED.signingSecret, onlyNewKey)).status).toBe(200);
  });
});

describe("which tokens Slack requests are checked with", () => {
  it("uses the environment's tokens when it has them, and the pasted ones only when it has none", async () => {
    expect((await putCredentials({ botToken: PASTED.botToken, signingSecret: PASTED.signingSecret })).status).toBe(200);

    // Environment first: the pasted signing secret does not verify, the environment's does.
    expect((await challenge(PASTED.signingSecret, {})).status).toBe(401);
    expect((await challenge(FAKE_SLACK.signingSecret, {})).status).toBe(200);

    // Nothing in the environment: the pasted secret verifies, the environment's former one does not.
    const verified = await challenge(PASTED.signingSecret, NO_ENV_TOKENS);
    expect(verified.status).toBe(200);
    expect(await verified.json()).toEqual({ challenge: "prove-it" });
    expect((await challenge(FAKE_SLACK.signingSecret, NO_ENV_TOKENS)).status).toBe(401);

    const settings = (await (await call("/api/slack/settings", withCookie(admin), NO_ENV_TOKENS)).json<{ settings: SlackSettingsView }>())
      .settings;
    expect(settings).toMatchObject({ configured: true, source: "dashboard", mode: "http", missing: [] });
  });

  it("after DELETE, with nothing in the environment, every Slack entry point fails closed naming what to set", async () => {
    expect((await putCredentials(PASTED)).status).toBe(200);
    expect((await challenge(PASTED.signingSecret, NO_ENV_TOKENS)).status).toBe(200);
    const removed = await call("/api/slack/credentials", withCookie(admin, "DELETE"), NO_ENV_TOKENS);
    expect(removed.status).toBe(200);
    expect((await removed.json<{ settings: SlackSettingsView }>()).settings).toMatchObject({
      configured: false,
      source: null,
      storedCredentials: null,
    });
    expect(await storedRow()).toBeNull();

    const events = await challenge(PASTED.signingSecret, NO_ENV_TOKENS);
    const interactions = await call(
      "/api/slack/interactions",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: blockAction({ channel: newChannel(), messageTs: "1.2", action: { type: "button", action_id: "lookout_stop", value: "x" } }),
      },
      NO_ENV_TOKENS,
    );
    const socket = await relayRequest(
      "POST",
      "/api/slack/socket",
      JSON.stringify({ envelopeId: "env-1", type: "events_api", payload: { type: "event_callback", team_id: FAKE_SLACK.teamId } }),
      NO_ENV_TOKENS,
    );
    for (const response of [events, interactions, socket]) {
      expect(response.status).toBe(503);
      const error = await errorOf(response);
      expect(error.code).toBe("SERVICE_NOT_CONFIGURED");
      expect(error.message).toContain("SLACK_BOT_TOKEN");
      expect(error.message).toContain("Settings → Slack");
    }

    const outcome: SessionOutcome = {
      kind: "pull-request",
      sessionId: "s_unconfigured",
      origin: { kind: "slack", teamId: FAKE_SLACK.teamId, channelId: newChannel(), threadTs: "1.000001" },
      url: "https://github.com/acme/app/pull/1",
      title: "t",
      state: "open",
      at: Date.now(),
    };
    const report: OutboxReport = {
      idempotencyKey: "k",
      sessionId: outcome.sessionId,
      outcome,
      status: "pending",
      attempts: 1,
      nextAttemptAt: Date.now(),
      lastError: null,
      createdAt: Date.now(),
      deliveredAt: null,
    };
    await expect(slackSink.deliver({ ...env, ...NO_ENV_TOKENS }, report, "k")).rejects.toMatchObject({ code: "SERVICE_NOT_CONFIGURED" });
  });

  it("gives the relay the pasted app-level token through its signed route, and no one else", async () => {
    expect((await putCredentials(PASTED)).status).toBe(200);
    const relay = await relayRequest("GET", "/api/slack/relay", "", NO_ENV_TOKENS);
    expect(relay.status).toBe(200);
    expect(await relay.json()).toEqual({ mode: "socket", appToken: PASTED.appToken });

    expect((await call("/api/slack/relay", withCookie(admin), NO_ENV_TOKENS)).status).toBe(403);
    expect((await call("/api/slack/relay", {}, NO_ENV_TOKENS)).status).toBe(401);

    // With the environment's tokens in use, the relay takes its app token from its own environment.
    const fromEnvironment = await relayRequest("GET", "/api/slack/relay");
    expect(await fromEnvironment.json()).toEqual({ mode: "socket", appToken: null });
  });
});
