import type { SessionSummary } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type Stack } from "../src";
import { FAKE_SLACK_TEAM, type FakeSlack, type FakeSlackCall } from "../src/fake-slack";
import { mentionEnvelope, type SlackStack, startSlackStack } from "../src/slack-stack";

/**
 * The repository classifier on the real stack: a Slack mention that names no repository is
 * classified by the real gateway's `/v1/model/complete`, signed by the Worker, answered by the
 * offline model (the repository whose description shares the most words with the message), and the
 * session starts there; a message no description fits gets the picker.
 */
const CHANNEL = "C0E2ECLASSIFY";
/** The session is created once a sandbox is asked for; the classifier's budget is 4 s of it. */
const START_TIMEOUT_MS = 60_000;

let slackStack: SlackStack;
let stack: Stack;
let slack: FakeSlack;
let cookie: string;
const repositories: Record<"billing" | "website", string> = { billing: "", website: "" };

beforeAll(async () => {
  slackStack = await startSlackStack({ botTokenInEnvironment: true });
  ({ stack, slack, cookie } = slackStack);
  const descriptions = { billing: "Invoices, payments and the checkout.", website: "The marketing site and its blog." };
  for (const name of ["billing", "website"] as const) repositories[name] = await slackStack.addRepository(name, descriptions[name]);
  await slackStack.connectRelay();
});

afterAll(async () => {
  await slackStack?.stop();
});

function mention(text: string, ts: string): void {
  slack.sendEnvelope(mentionEnvelope({ channel: CHANNEL, user: "U0ALICE", text, ts }));
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
    const working = await slackStack.eventually(
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
    const picker = await slackStack.eventually(
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
