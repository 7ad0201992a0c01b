import { randomBytes } from "node:crypto";
import { type ForwardResult, fetchRelaySettings } from "@lookout/slack-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type Stack } from "../src";
import { FAKE_SLACK_TEAM, FAKE_SLACK_TOKENS, type FakeSlack } from "../src/fake-slack";
import { mentionEnvelope, type SlackStack, startSlackStack } from "../src/slack-stack";

/**
 * Slack connected from the dashboard on the real stack: the Worker starts with no Slack token in
 * its environment and refuses Slack; an admin pastes the tokens (checked with the fake Slack's
 * `auth.test`, sealed); the relay learns the pasted app-level token from the control plane's signed
 * route, connects in Socket Mode, and a mention starts a session answered with the pasted bot token;
 * once the tokens are removed, Slack is refused again.
 */
const SIGNING_SECRET = randomBytes(16).toString("hex");
const CHANNEL = "C0E2EPASTED";
/** Session creation and the status message's first edits; no sandbox has to finish. */
const START_TIMEOUT_MS = 60_000;

let slackStack: SlackStack;
let stack: Stack;
let slack: FakeSlack;
let cookie: string;
let relaySecret: string;
const forwarded: ForwardResult[] = [];

beforeAll(async () => {
  slackStack = await startSlackStack({ botTokenInEnvironment: false });
  ({ stack, slack, cookie, relaySecret } = slackStack);
  await slackStack.addRepository("fixture");
});

afterAll(async () => {
  await slackStack?.stop();
});

function mention(ts: string): ReturnType<typeof mentionEnvelope> {
  return mentionEnvelope({ channel: CHANNEL, user: "U0ALICE", text: "make greet() say hello politely repo:fixture", ts });
}

describe("Slack tokens pasted in the dashboard, on the real stack", () => {
  it("connects Slack in Socket Mode with no token in the environment, and refuses Slack again once they are removed", async () => {
    const api = apiClient(stack.url, cookie);
    const before = await api<{ settings: { configured: boolean; missing: string[] } }>("GET", "/api/slack/settings");
    expect(before.json.settings).toMatchObject({ configured: false, missing: ["SLACK_BOT_TOKEN"] });
    expect(await fetchRelaySettings(stack.url, relaySecret)).toEqual({ mode: null, appToken: null });

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
    const settings = await fetchRelaySettings(stack.url, relaySecret);
    expect(settings).toEqual({ mode: "socket", appToken: FAKE_SLACK_TOKENS.app });
    await slackStack.connectRelay({ appToken: settings.appToken!, onForwarded: (result) => forwarded.push(result) });

    const ts = "1800000100.000100";
    slack.sendEnvelope(mention(ts));
    await slackStack.eventually(
      () => slack.calls.find((call) => call.method === "reactions.add" && call.args.timestamp === ts),
      START_TIMEOUT_MS,
      "👀 with the pasted bot token",
    );
    await slackStack.eventually(
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
    const refused = await slackStack.eventually(
      () => forwarded.find((result) => result.envelopeId === late.envelope_id),
      START_TIMEOUT_MS,
      "the Worker's answer to an envelope after the tokens were removed",
    );
    expect(refused).toMatchObject({ ok: false, status: 503 });
    expect(refused.ok ? "" : refused.error).toContain("SLACK_BOT_TOKEN");
    expect(slack.calls.some((call) => call.method === "reactions.add" && call.args.timestamp === "1800000100.000200")).toBe(false);
  });
});
