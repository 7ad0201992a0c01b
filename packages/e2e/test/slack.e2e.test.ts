import type { SessionSummary } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type Stack } from "../src";
import { FAKE_SLACK_TEAM, type FakeSlack, type FakeSlackCall } from "../src/fake-slack";
import { mentionEnvelope, type SlackStack, startSlackStack } from "../src/slack-stack";

/**
 * Slack on the real stack (wrangler dev, the gateway's bubblewrap sandboxes, OpenCode and the
 * scripted model) in Socket Mode: a fake Slack's socket sends a mention, the relay acks it and hands
 * it to the Worker, the session runs to completion with the offline model, the status message is
 * updated in place, the completion reply with the session link lands in the thread exactly once, and
 * a thread reply from a second person runs as a follow-up authored by them.
 */
/** A sandbox starts, clones, runs OpenCode, and the outbox reports the settled prompt. */
const SESSION_TIMEOUT_MS = 150_000;
const CHANNEL = "C0E2EGENERAL";

let slackStack: SlackStack;
let stack: Stack;
let slack: FakeSlack;
let cookie: string;

beforeAll(async () => {
  slackStack = await startSlackStack({ botTokenInEnvironment: true });
  ({ stack, slack, cookie } = slackStack);
  await slackStack.addRepository("fixture");
  await slackStack.connectRelay();
});

afterAll(async () => {
  await slackStack?.stop();
});

const threadCalls = (method: string, threadTs: string): FakeSlackCall[] =>
  slack.calls.filter(
    (call) =>
      call.method === method && call.args.channel === CHANNEL && (method !== "chat.postMessage" || call.args.thread_ts === threadTs),
  );

const completionReplies = (threadTs: string): FakeSlackCall[] =>
  threadCalls("chat.postMessage", threadTs).filter((call) => String(call.args.text).includes("Session: "));

describe("Slack in Socket Mode on the real stack", () => {
  it("runs a mention to a completed session, keeps one status message, replies once, and takes a follow-up from a second person", async () => {
    const ts = "1800000000.000100";
    const envelope = mentionEnvelope({ channel: CHANNEL, user: "U0ALICE", text: "make greet() say hello politely repo:fixture", ts });
    const sentAt = Date.now();
    slack.sendEnvelope(envelope);

    await slackStack.eventually(() => (slack.acks.includes(String(envelope.envelope_id)) ? true : undefined), 3_000, "the envelope's ack");
    const eyes = await slackStack.eventually(
      () => slack.calls.find((call) => call.method === "reactions.add" && call.args.timestamp === ts),
      10_000,
      "👀",
    );
    expect(eyes.args.name).toBe("eyes");
    expect(eyes.at - sentAt).toBeLessThan(3_000);

    const reply = await slackStack.eventually(() => completionReplies(ts)[0], SESSION_TIMEOUT_MS, "the completion reply");
    const sessionId = /\/sessions\/([A-Za-z0-9_]+)/.exec(String(reply.args.text))?.[1] ?? "";
    expect(String(reply.args.text)).toContain(`${stack.url}/sessions/${sessionId}`);
    const session = await apiClient(stack.url, cookie)<{ session: SessionSummary }>("GET", `/api/sessions/${sessionId}`);
    expect(session.json.session.origin).toEqual({ kind: "slack", teamId: FAKE_SLACK_TEAM.id, channelId: CHANNEL, threadTs: ts });

    // One status message, posted once and edited in place through to "Finished".
    const posts = threadCalls("chat.postMessage", ts);
    const status = posts[0]!;
    expect(posts.filter((call) => call !== reply)).toEqual([status]);
    const updates = threadCalls("chat.update", ts).filter((call) => call.args.ts === status.ts);
    const texts = updates.map((call) => String(call.args.text));
    expect(texts).toEqual(expect.arrayContaining([expect.stringContaining("Working on it"), expect.stringContaining("Finished")]));
    // While the prompt ran, the same message showed its steps (starting, cloning, thinking, a tool), before Finished.
    const lifecycle = ["Starting a session", "Working on it", "Finished", "Pull request"];
    const firstStep = texts.findIndex((text) => !lifecycle.some((known) => text.includes(known)));
    expect(firstStep, `the status message's updates: ${JSON.stringify(texts)}`).toBeGreaterThanOrEqual(0);
    expect(firstStep).toBeLessThan(texts.findIndex((text) => text.includes("Finished")));
    expect(completionReplies(ts)).toHaveLength(1);

    // A reply in the thread from Bob is a follow-up on the same session, authored by him.
    const replyTs = "1800000000.000200";
    slack.sendEnvelope(mentionEnvelope({ channel: CHANNEL, user: "U0BOB", text: "also add a test", ts: replyTs, threadTs: ts }));
    await slackStack.eventually(() => (completionReplies(ts).length === 2 ? true : undefined), SESSION_TIMEOUT_MS, "the follow-up's reply");
    const events = await apiClient(stack.url, cookie)<{ events: unknown[] }>("GET", `/api/sessions/${sessionId}/events?limit=500`);
    const queued = JSON.stringify(events.json).match(/"type":"prompt\.queued"[^}]*"author":\{[^}]*"name":"([^"]+)"/g) ?? [];
    expect(queued.some((entry) => entry.includes('"name":"bob"'))).toBe(true);
    expect(threadCalls("chat.postMessage", ts).filter((call) => !String(call.args.text).includes("Session: "))).toEqual([status]);
  });
});
