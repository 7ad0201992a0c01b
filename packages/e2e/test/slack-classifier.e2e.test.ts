import { randomBytes, randomUUID } from "node:crypto";
import type { SessionSummary } from "@lookout/protocol";
import { SlackRelay } from "@lookout/slack-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, type Stack, startStack } from "../src";
import { FAKE_SLACK_TEAM, FAKE_SLACK_TOKENS, type FakeSlack, type FakeSlackCall, startFakeSlack } from "../src/fake-slack";

/**
 * The repository classifier on the real stack: a Slack mention that names no repository is
 * classified by the real gateway's `/v1/model/complete`, signed by the Worker, answered by the
 * offline model (the repository whose description shares the most words with the message), and the
 * session starts there; a message no description fits gets the picker.
 */
const RELAY_SECRET = randomBytes(32).toString("base64url");
const CHANNEL = "C0E2ECLASSIFY";
const POLL_MS = 250;
/** The session is created once a sandbox is asked for; the classifier's budget is 4 s of it. */
const START_TIMEOUT_MS = 60_000;

let stack: Stack;
let slack: FakeSlack;
let relay: SlackRelay;
let cookie: string;
const repositories: Record<"billing" | "website", string> = { billing: "", website: "" };

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startStack({
    vars: { SLACK_BOT_TOKEN: FAKE_SLACK_TOKENS.bot, SLACK_API_URL: slack.apiUrl, SERVICE_SECRET_SLACK_RELAY: RELAY_SECRET },
  });
  cookie = await stack.login();
  const descriptions = { billing: "Invoices, payments and the checkout.", website: "The marketing site and its blog." };
  for (const name of ["billing", "website"] as const) {
    const created = await apiClient(stack.url, cookie)<{ repository: { id: string } }>("POST", "/api/repositories", {
      kind: "local",
      path: createRepoFixture(),
      name,
      description: descriptions[name],
    });
    expect(created.status).toBe(201);
    repositories[name] = created.json.repository.id;
  }
  relay = new SlackRelay({ appToken: FAKE_SLACK_TOKENS.app, workerUrl: stack.url, serviceSecret: RELAY_SECRET, slackApiUrl: slack.apiUrl });
  await relay.start();
  await slack.connected;
});

afterAll(async () => {
  await relay?.stop();
  await stack?.stop();
  await slack?.close();
});

async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000}s waiting for ${what}\n${JSON.stringify(slack.calls.slice(-10))}\n${stack.logs().slice(-3000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function mention(text: string, ts: string): void {
  slack.sendEnvelope({
    envelope_id: randomUUID(),
    type: "events_api",
    accepts_response_payload: false,
    payload: {
      type: "event_callback",
      team_id: FAKE_SLACK_TEAM.id,
      api_app_id: "A0LOOKOUT",
      event_id: `Ev${randomUUID().slice(0, 8)}`,
      event_time: Math.floor(Date.now() / 1000),
      event: { type: "app_mention", user: "U0ALICE", text: `<@${FAKE_SLACK_TEAM.botUserId}> ${text}`, ts, channel: CHANNEL, event_ts: ts },
    },
  });
}

/** Lookout's messages in a thread: its first post and every later edit of it. */
function threadTexts(threadTs: string): { posts: FakeSlackCall[]; texts: string[] } {
  const posts = slack.calls.filter(
    (call) => call.method === "chat.postMessage" && call.args.channel === CHANNEL && call.args.thread_ts === threadTs,
  );
  const first = posts[0]?.ts;
  const updates = slack.calls.filter((call) => call.method === "chat.update" && call.args.channel === CHANNEL && call.args.ts === first);
  return { posts, texts: [...posts, ...updates].map((call) => String(call.args.text)) };
}

describe("the repository classifier on the real stack", () => {
  it("starts the session on the repository the offline model picks, and says so in the thread", async () => {
    const ts = "1800000001.000100";
    mention("the checkout charges twice when invoices are paid by card", ts);
    const working = await eventually(
      () => threadTexts(ts).texts.find((text) => text.includes("Working on it")),
      START_TIMEOUT_MS,
      "the session to start",
    );
    expect(working).toContain("Picked billing from the message");
    const sessionLink = threadTexts(ts)
      .posts.concat(slack.calls.filter((call) => call.method === "chat.update"))
      .map((call) => /\/sessions\/([A-Za-z0-9_]+)/.exec(JSON.stringify(call.args.blocks ?? ""))?.[1])
      .find((id) => id !== undefined);
    expect(sessionLink).toBeDefined();
    const session = await apiClient(stack.url, cookie)<{ session: SessionSummary }>("GET", `/api/sessions/${sessionLink}`);
    expect(session.json.session.repositoryId).toBe(repositories.billing);
    expect(session.json.session.origin).toEqual({ kind: "slack", teamId: FAKE_SLACK_TEAM.id, channelId: CHANNEL, threadTs: ts });
  });

  it("asks with the picker when no repository's name or description fits the message", async () => {
    const ts = "1800000001.000200";
    mention("rename the variable", ts);
    const picker = await eventually(
      () => threadTexts(ts).posts.find((call) => JSON.stringify(call.args.blocks ?? "").includes("lookout_pick_repository")),
      START_TIMEOUT_MS,
      "the picker",
    );
    const blocks = JSON.stringify(picker.args.blocks);
    expect(blocks).toContain(repositories.billing);
    expect(blocks).toContain(repositories.website);
    const sessions = await apiClient(stack.url, cookie)<{ sessions: SessionSummary[] }>("GET", "/api/sessions");
    expect(sessions.json.sessions.filter((s) => JSON.stringify(s.origin).includes(ts))).toEqual([]);
  });
});
