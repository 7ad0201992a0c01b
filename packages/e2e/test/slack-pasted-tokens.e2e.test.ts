import { randomBytes, randomUUID } from "node:crypto";
import { type ForwardResult, SlackRelay, fetchRelaySettings } from "@lookout/slack-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, type Stack, startStack } from "../src";
import { FAKE_SLACK_TEAM, FAKE_SLACK_TOKENS, type FakeSlack, startFakeSlack } from "../src/fake-slack";

/**
 * Slack connected from the dashboard on the real stack: the Worker starts with no Slack token in
 * its environment and refuses Slack; an admin pastes the tokens (checked with the fake Slack's
 * `auth.test`, sealed); the relay learns the pasted app-level token from the control plane's signed
 * route, connects in Socket Mode, and a mention starts a session answered with the pasted bot token;
 * once the tokens are removed, Slack is refused again.
 */
const RELAY_SECRET = randomBytes(32).toString("base64url");
const SIGNING_SECRET = randomBytes(16).toString("hex");
const CHANNEL = "C0E2EPASTED";
const POLL_MS = 250;
/** Session creation and the status message's first edits; no sandbox has to finish. */
const START_TIMEOUT_MS = 60_000;

let stack: Stack;
let slack: FakeSlack;
let relay: SlackRelay | undefined;
let cookie: string;
const forwarded: ForwardResult[] = [];

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startStack({ vars: { SLACK_API_URL: slack.apiUrl, SERVICE_SECRET_SLACK_RELAY: RELAY_SECRET } });
  cookie = await stack.login();
  const created = await apiClient(stack.url, cookie)("POST", "/api/repositories", {
    kind: "local",
    path: createRepoFixture(),
    name: "fixture",
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await relay?.stop();
  await stack?.stop();
  await slack?.close();
});

async function eventually<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000}s waiting for ${what}\n${JSON.stringify(slack.calls.slice(-10))}\n${stack.logs().slice(-3000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function mention(ts: string): Record<string, unknown> {
  return {
    envelope_id: randomUUID(),
    type: "events_api",
    accepts_response_payload: false,
    payload: {
      type: "event_callback",
      team_id: FAKE_SLACK_TEAM.id,
      api_app_id: "A0LOOKOUT",
      event_id: `Ev${randomUUID().slice(0, 8)}`,
      event_time: Math.floor(Date.now() / 1000),
      event: {
        type: "app_mention",
        user: "U0ALICE",
        text: `<@${FAKE_SLACK_TEAM.botUserId}> make greet() say hello politely repo:fixture`,
        ts,
        channel: CHANNEL,
        event_ts: ts,
      },
    },
  };
}

describe("Slack tokens pasted in the dashboard, on the real stack", () => {
  it("connects Slack in Socket Mode with no token in the environment, and refuses Slack again once they are removed", async () => {
    const api = apiClient(stack.url, cookie);
    const before = await api<{ settings: { configured: boolean; missing: string[] } }>("GET", "/api/slack/settings");
    expect(before.json.settings).toMatchObject({ configured: false, missing: ["SLACK_BOT_TOKEN"] });
    expect(await fetchRelaySettings(stack.url, RELAY_SECRET)).toEqual({ mode: null, appToken: null });

    const pasted = await api("PUT", "/api/slack/credentials", {
      botToken: FAKE_SLACK_TOKENS.bot,
      signingSecret: SIGNING_SECRET,
      appToken: FAKE_SLACK_TOKENS.app,
    });
    expect(pasted.status).toBe(200);
    const answer = JSON.stringify(pasted.json);
    for (const token of [FAKE_SLACK_TOKENS.bot, FAKE_SLACK_TOKENS.app, SIGNING_SECRET]) expect(answer).not.toContain(token);
    expect(pasted.json).toMatchObject({
      settings: { configured: true, source: "dashboard", mode: "socket", workspace: { teamId: FAKE_SLACK_TEAM.id } },
    });

    // The relay has no app token of its own: it takes the pasted one from the control plane.
    const settings = await fetchRelaySettings(stack.url, RELAY_SECRET);
    expect(settings).toEqual({ mode: "socket", appToken: FAKE_SLACK_TOKENS.app });
    relay = new SlackRelay({
      appToken: settings.appToken!,
      workerUrl: stack.url,
      serviceSecret: RELAY_SECRET,
      slackApiUrl: slack.apiUrl,
      onForwarded: (result) => forwarded.push(result),
    });
    await relay.start();
    await slack.connected;

    const ts = "1800000100.000100";
    slack.sendEnvelope(mention(ts));
    await eventually(
      () => slack.calls.find((call) => call.method === "reactions.add" && call.args.timestamp === ts),
      START_TIMEOUT_MS,
      "👀 with the pasted bot token",
    );
    await eventually(
      () =>
        slack.calls.find(
          (call) => call.method === "chat.update" && call.args.channel === CHANNEL && String(call.args.text).includes("Working on it"),
        ),
      START_TIMEOUT_MS,
      "the session started from the mention",
    );

    expect((await api("DELETE", "/api/slack/credentials")).status).toBe(200);
    const late = mention("1800000100.000200");
    slack.sendEnvelope(late);
    const refused = await eventually(
      () => forwarded.find((result) => result.envelopeId === late.envelope_id),
      START_TIMEOUT_MS,
      "the Worker's answer to an envelope after the tokens were removed",
    );
    expect(refused).toMatchObject({ ok: false, status: 503 });
    expect(refused.ok ? "" : refused.error).toContain("SLACK_BOT_TOKEN");
    expect(slack.calls.some((call) => call.method === "reactions.add" && call.args.timestamp === "1800000100.000200")).toBe(false);
  });
});
