import { SELF, createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { signRequest } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { app } from "../src/app";
import { ORIGIN, api, login } from "./helpers";
import { FAKE_SLACK } from "./support/fake-slack";
import { eventCallback, newChannel, sendToSlackRoute, slackCalls, slackSignature, waitForDelivery } from "./support/slack";

let cookie: string;
let repoName: string;

beforeAll(async () => {
  cookie = await login();
  repoName = `slack-events-${crypto.randomUUID().slice(0, 8)}`;
  const repo = await api(cookie)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${repoName}`, name: repoName });
  expect(repo.status).toBe(201);
});

async function sessionCount(): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions").first<{ n: number }>())!.n;
}

async function refusedSlackDeliveries(): Promise<{ delivery_id: string; reason: string }[]> {
  const { results } = await env.DB.prepare(
    "SELECT delivery_id, reason FROM trigger_deliveries WHERE source = 'slack' AND status = 'refused' ORDER BY received_at",
  ).all<{ delivery_id: string; reason: string }>();
  return results;
}

describe("the Events API endpoint", () => {
  it("answers url_verification with the challenge, after checking the signature", async () => {
    const body = JSON.stringify({
      token: "x",
      challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
      type: "url_verification",
    });
    const answered = await sendToSlackRoute(body);
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.text)).toEqual({ challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" });
    const forged = await sendToSlackRoute(body, { secret: "not-the-signing-secret-0123456789" });
    expect(forged.status).toBe(401);
  });

  it("acknowledges a mention at once and starts the session in the background, learning the workspace without a call before the ack", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `<@${FAKE_SLACK.botUserId}> fix the signup page repo:${repoName}` });
    const started = Date.now();
    const answered = await sendToSlackRoute(mention.body);
    expect(answered.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3_000);
    const delivery = await waitForDelivery(channel, mention.ts);
    expect(delivery.status).toBe("started");
    expect(delivery.session_id).toMatch(/^ses_/);
    const workspace = await env.DB.prepare("SELECT team_id, bot_user_id FROM slack_workspaces").all();
    expect(workspace.results).toEqual([{ team_id: FAKE_SLACK.teamId, bot_user_id: FAKE_SLACK.botUserId }]);
  });
});

describe("Slack requests that are refused or ignored, starting nothing", () => {
  const refusals: [string, number, string, (body: string) => ReturnType<typeof sendToSlackRoute>][] = [
    [
      "a bad signature",
      401,
      "WEBHOOK_SIGNATURE_INVALID",
      (body) => sendToSlackRoute(body, { secret: "not-the-signing-secret-0123456789" }),
    ],
    ["a missing signature", 401, "WEBHOOK_SIGNATURE_INVALID", (body) => sendToSlackRoute(body, { signature: null })],
    [
      "a timestamp older than 300 s (signed with it)",
      401,
      "STALE_REQUEST",
      (body) => sendToSlackRoute(body, { timestamp: String(Math.floor(Date.now() / 1000) - 301) }),
    ],
    ["a missing timestamp", 401, "STALE_REQUEST", (body) => sendToSlackRoute(body, { timestamp: null })],
    [
      "a signature over other bytes than were sent",
      401,
      "WEBHOOK_SIGNATURE_INVALID",
      async (body) => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        return sendToSlackRoute(`${body} `, { timestamp, signature: await slackSignature(FAKE_SLACK.signingSecret, timestamp, body) });
      },
    ],
    ["a content type Slack never sends", 415, "UNSUPPORTED_MEDIA_TYPE", (body) => sendToSlackRoute(body, { contentType: "text/plain" })],
  ];

  for (const [name, status, code, send] of refusals) {
    it(`refuses ${name} (${status} ${code})`, async () => {
      const before = await sessionCount();
      const channel = newChannel();
      const mention = eventCallback({ channel, text: `<@${FAKE_SLACK.botUserId}> do it repo:${repoName}` });
      const answered = await send(mention.body);
      expect(answered.status).toBe(status);
      expect(JSON.parse(answered.text).error.code).toBe(code);
      expect(await sessionCount()).toBe(before);
      const calls = await slackCalls();
      expect(calls.filter((call) => call.args.channel === channel)).toEqual([]);
    });
  }

  it("refuses a malformed body that is signed (400), before anything is recorded", async () => {
    const answered = await sendToSlackRoute("{not json");
    expect(answered.status).toBe(400);
    expect(JSON.parse(answered.text).error.code).toBe("INVALID_JSON");
    const notObject = await sendToSlackRoute("[1,2]");
    expect(JSON.parse(notObject.text).error.code).toBe("BAD_REQUEST");
    const noTeam = await sendToSlackRoute(JSON.stringify({ type: "event_callback", event: { type: "app_mention" } }));
    expect(JSON.parse(noTeam.text).error.code).toBe("BAD_REQUEST");
  });

  it("ignores a replayed event_id: the retry is answered 200 and starts nothing more", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `<@${FAKE_SLACK.botUserId}> once only repo:${repoName}` });
    expect((await sendToSlackRoute(mention.body)).status).toBe(200);
    await waitForDelivery(channel, mention.ts);
    const sessions = await sessionCount();
    const retry = await sendToSlackRoute(mention.body, { headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" } });
    expect(retry.status).toBe(200);
    const replayed = await waitForReplay(channel, mention.ts);
    expect(replayed).toBe(1);
    expect(await sessionCount()).toBe(sessions);
    const reactions = (await slackCalls()).filter((call) => call.method === "reactions.add" && call.args.channel === channel);
    expect(reactions).toHaveLength(1);
  });

  it("ignores the same message arriving as both app_mention and message.im ((channel, ts) dedupe)", async () => {
    const dm = newChannel("D");
    const mention = eventCallback({ channel: dm, text: `<@${FAKE_SLACK.botUserId}> tidy the README repo:${repoName}` });
    const asMessage = eventCallback({
      type: "message",
      channelType: "im",
      channel: dm,
      ts: mention.ts,
      text: `<@${FAKE_SLACK.botUserId}> tidy the README repo:${repoName}`,
    });
    expect(asMessage.eventId).not.toBe(mention.eventId);
    expect((await sendToSlackRoute(mention.body)).status).toBe(200);
    expect((await sendToSlackRoute(asMessage.body)).status).toBe(200);
    await waitForDelivery(dm, mention.ts);
    expect(await waitForReplay(dm, mention.ts)).toBe(1);
    const started = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE origin LIKE ?").bind(`%${dm}%`).first<{ n: number }>();
    expect(started!.n).toBe(1);
  });

  it("refuses a team other than the connected workspace, records why, and starts nothing", async () => {
    // The workspace is connected by the first test's mention.
    await waitForWorkspace();
    const before = await sessionCount();
    const channel = newChannel();
    const stranger = eventCallback({ channel, teamId: "T0STRANGER", text: `<@${FAKE_SLACK.botUserId}> hello repo:${repoName}` });
    const answered = await sendToSlackRoute(stranger.body);
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.text).ignored).toContain("T0STRANGER");
    expect((await refusedSlackDeliveries()).find((row) => row.delivery_id === stranger.eventId)?.reason).toContain("T0STRANGER");
    expect(await sessionCount()).toBe(before);
    expect((await slackCalls()).filter((call) => call.args.channel === channel)).toEqual([]);
  });

  it("fails closed while the signing secret or bot token is missing, naming what to set", async () => {
    for (const missing of ["SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"] as const) {
      const mention = eventCallback({ channel: newChannel(), text: "hello" });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const request = new Request(`${ORIGIN}/api/slack/events`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-slack-request-timestamp": timestamp,
          "x-slack-signature": await slackSignature(FAKE_SLACK.signingSecret, timestamp, mention.body),
        },
        body: mention.body,
      });
      const ctx = createExecutionContext();
      const response = await app.fetch(request, { ...env, [missing]: undefined }, ctx);
      await waitOnExecutionContext(ctx);
      expect(response.status).toBe(503);
      const error = (await response.json<{ error: { code: string; message: string } }>()).error;
      expect(error.code).toBe("SERVICE_NOT_CONFIGURED");
      expect(error.message).toContain(missing);
    }
  });
});

async function waitForWorkspace(): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await env.DB.prepare("SELECT 1 FROM slack_workspaces").first())) {
    if (Date.now() > deadline) throw new Error("the Slack workspace was never connected");
    await scheduler.wait(10);
  }
}

/** Waits until the message's replay is recorded and returns how many replays there are. */
async function waitForReplay(channel: string, ts: string): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const row = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM trigger_deliveries WHERE source = 'slack' AND delivery_id = ? AND status = 'replayed'",
    )
      .bind(`${FAKE_SLACK.teamId}:${channel}:${ts}`)
      .first<{ n: number }>();
    if (row!.n > 0) return row!.n;
    if (Date.now() > deadline) throw new Error(`no replay recorded for ${channel}:${ts}`);
    await scheduler.wait(10);
  }
}

describe("the Socket Mode hand-off from the relay", () => {
  async function handOff(envelope: unknown, service = "slack-relay", secret = "test-slack-relay-secret") {
    const body = JSON.stringify(envelope);
    const headers = await signRequest({ service, method: "POST", pathAndQuery: "/api/slack/socket", body }, secret);
    const response = await SELF.fetch(`${ORIGIN}/api/slack/socket`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
    return { status: response.status, json: await response.json<Record<string, any>>() };
  }

  it("runs a forwarded envelope through the same ingest: the mention starts a session", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `<@${FAKE_SLACK.botUserId}> from the socket repo:${repoName}` });
    const answered = await handOff({ envelopeId: "env-socket-1", type: "events_api", payload: JSON.parse(mention.body) });
    expect(answered.status).toBe(200);
    expect(answered.json).toMatchObject({ ok: true, envelopeId: "env-socket-1", answer: "ack" });
    expect((await waitForDelivery(channel, mention.ts)).status).toBe("started");
  });

  it("refuses a hand-off from any service but the relay, or with a bad signature, starting nothing", async () => {
    const before = await sessionCount();
    const mention = eventCallback({ channel: newChannel(), text: `<@${FAKE_SLACK.botUserId}> sneaky repo:${repoName}` });
    const envelope = { envelopeId: "env-socket-2", type: "events_api", payload: JSON.parse(mention.body) };
    expect((await handOff(envelope, "test-bot", "test-bot-secret")).json.error.code).toBe("FORBIDDEN");
    expect((await handOff(envelope, "slack-relay", "not-the-relay-secret")).status).toBe(401);
    expect(await sessionCount()).toBe(before);
  });
});
