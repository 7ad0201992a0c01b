import { env } from "cloudflare:test";
import type { SessionOutcome } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { OutboxDrainer, enqueueOutcome, idempotencyKeyOf } from "../src/triggers/outbox";
import { slackSink } from "../src/triggers/sinks/slack";
import { api, login } from "./helpers";
import { FAKE_SLACK, type FakeSlackCall, NOT_IN_CHANNEL_PREFIX } from "./support/fake-slack";
import {
  INTERACTION,
  blockAction,
  eventCallback,
  homeOpened,
  homeSelect,
  newChannel,
  nextTs,
  registerRepository,
  repositoryPick,
  sendToSlackApp,
  sendToSlackRoute,
  slackCalls,
  waitForCalls,
  waitForDelivery,
} from "./support/slack";

let cookie: string;
const repos: { id: string; name: string }[] = [];

beforeAll(async () => {
  cookie = await login();
  for (let i = 0; i < 3; i++) repos.push(await registerRepository(cookie, "slack"));
});

const BOT = `<@${FAKE_SLACK.botUserId}>`;

function inChannel(calls: FakeSlackCall[], channel: string, method?: string): FakeSlackCall[] {
  return calls.filter((call) => call.args.channel === channel && (!method || call.method === method));
}

async function sessionOf(sessionId: string): Promise<{ repository_id: string; origin: string }> {
  return (await env.DB.prepare("SELECT repository_id, origin FROM sessions WHERE id = ?")
    .bind(sessionId)
    .first<{ repository_id: string; origin: string }>())!;
}

/** Mentions the bot in a new channel's thread and waits until the session has started. */
async function startThread(text: string, user = "U0ALICE") {
  const channel = newChannel();
  const mention = eventCallback({ channel, user, text: `${BOT} ${text}` });
  expect((await sendToSlackRoute(mention.body)).status).toBe(200);
  const delivery = await waitForDelivery(channel, mention.ts);
  expect(delivery.status).toBe("started");
  return { channel, ts: mention.ts, sessionId: delivery.session_id!, delivery };
}

describe("a mention in a channel", () => {
  it("reacts 👀, starts a session with its Slack origin, and keeps one status message current with the session link and a Stop button", async () => {
    const { channel, ts, sessionId } = await startThread(`the signup page 500s when the email has a plus sign repo:${repos[0]!.name}`);
    // The session's own steps ("Starting a sandbox") may edit the same message before or after.
    const calls = await waitForCalls((all) =>
      inChannel(all, channel, "chat.update").some((call) => String(call.args.text).includes("Working on it")) ? all : undefined,
    );
    const reactions = inChannel(calls, channel, "reactions.add");
    expect(reactions).toHaveLength(1);
    expect(reactions[0]!.args).toMatchObject({ channel, timestamp: ts, name: "eyes" });
    const posts = inChannel(calls, channel, "chat.postMessage");
    expect(posts).toHaveLength(1);
    expect(posts[0]!.args.thread_ts).toBe(ts);
    const updates = inChannel(calls, channel, "chat.update");
    expect(new Set(updates.map((call) => call.args.ts))).toEqual(new Set([posts[0]!.ts]));
    const update = updates.find((call) => String(call.args.text).includes("Working on it"))!;
    expect(JSON.stringify(update.args.blocks)).toContain(`/sessions/${sessionId}`);
    expect(JSON.stringify(update.args.blocks)).toContain("lookout_stop");
    const session = await sessionOf(sessionId);
    expect(session.repository_id).toBe(repos[0]!.id);
    expect(JSON.parse(session.origin)).toEqual({ kind: "slack", teamId: FAKE_SLACK.teamId, channelId: channel, threadTs: ts });
  });

  it("runs a thread reply from a second person as a follow-up on the same session, authored by them, updating the same status message", async () => {
    const { channel, ts, sessionId } = await startThread(`fix it repo:${repos[0]!.name}`);
    const reply = eventCallback({ channel, user: "U0BOB", threadTs: ts, text: `${BOT} also handle uppercase emails` });
    expect((await sendToSlackRoute(reply.body)).status).toBe(200);
    const followUp = await waitForDelivery(channel, reply.ts);
    expect(followUp.status).toBe("followed_up");
    expect(followUp.session_id).toBe(sessionId);
    const author = await env.DB.prepare("SELECT name, limited FROM users WHERE id = ?")
      .bind(followUp.actor_user_id)
      .first<{ name: string; limited: number }>();
    expect(author).toEqual({ name: "bob", limited: 1 });
    const calls = await waitForCalls((all) =>
      inChannel(all, channel, "chat.update").some((call) => String(call.args.text).includes("<@U0BOB>'s follow-up")) ? all : undefined,
    );
    expect(inChannel(calls, channel, "chat.postMessage")).toHaveLength(1);
    expect(new Set(inChannel(calls, channel, "chat.update").map((call) => call.args.ts)).size).toBe(1);
  });

  it("still starts the session when Slack refuses the status message (the bot is not in the channel)", async () => {
    const channel = `${NOT_IN_CHANNEL_PREFIX}${crypto.randomUUID().slice(0, 6).toUpperCase()}`;
    const mention = eventCallback({ channel, text: `${BOT} fix it anyway repo:${repos[0]!.name}` });
    expect((await sendToSlackRoute(mention.body)).status).toBe(200);
    const delivery = await waitForDelivery(channel, mention.ts);
    expect(delivery.status).toBe("started");
    // Slack was asked for the status message and refused it each time (no ts came back).
    const posts = inChannel(await slackCalls(), channel, "chat.postMessage");
    expect(posts.length).toBeGreaterThan(0);
    expect(posts.map((call) => call.ts)).toEqual(posts.map(() => undefined));
  });

  it("starts a session from a direct message", async () => {
    const dm = newChannel("D");
    const message = eventCallback({ type: "message", channelType: "im", channel: dm, text: `rename the README repo:${repos[1]!.name}` });
    expect((await sendToSlackRoute(message.body)).status).toBe(200);
    const delivery = await waitForDelivery(dm, message.ts);
    expect(delivery.status).toBe("started");
    expect((await sessionOf(delivery.session_id!)).repository_id).toBe(repos[1]!.id);
  });

  it("ignores messages from bots, its own included", async () => {
    const dm = newChannel("D");
    const fromBot = JSON.parse(eventCallback({ type: "message", channelType: "im", channel: dm, text: "I am a bot" }).body);
    fromBot.event.bot_id = FAKE_SLACK.botId;
    fromBot.event.user = FAKE_SLACK.botUserId;
    expect((await sendToSlackRoute(JSON.stringify(fromBot))).status).toBe(200);
    const other = JSON.parse(eventCallback({ type: "message", channelType: "im", channel: dm, text: "another bot" }).body);
    other.event.bot_id = "B0OTHER";
    other.event.subtype = "bot_message";
    expect((await sendToSlackRoute(JSON.stringify(other))).status).toBe(200);
    // A human's message after them is handled, so the bots' had their turn and did nothing.
    const human = eventCallback({ type: "message", channelType: "im", channel: dm, text: `hello repo:${repos[1]!.name}` });
    await sendToSlackRoute(human.body);
    await waitForDelivery(dm, human.ts);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM trigger_deliveries WHERE delivery_id LIKE ?")
      .bind(`%:${dm}:%`)
      .first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });
});

describe("repository routing", () => {
  it("refuses a reply that names another repository than the thread's session works on, running nothing", async () => {
    const { channel, ts, sessionId } = await startThread(`fix it repo:${repos[0]!.name}`);
    const reply = eventCallback({ channel, user: "U0BOB", threadTs: ts, text: `${BOT} do it there instead repo:${repos[1]!.name}` });
    expect((await sendToSlackRoute(reply.body)).status).toBe(200);
    const refused = await waitForDelivery(channel, reply.ts);
    expect(refused.status).toBe("skipped");
    expect(refused.session_id).toBeNull();
    const calls = await waitForCalls((all) =>
      inChannel(all, channel, "chat.postMessage").some((call) => String(call.args.text).includes("can't switch")) ? all : undefined,
    );
    const note = inChannel(calls, channel, "chat.postMessage").find((call) => String(call.args.text).includes("can't switch"))!;
    expect(String(note.args.text)).toContain(repos[1]!.name);
    expect(note.args.thread_ts).toBe(ts);
    // The session and the thread's repository are as they were; the same repository named again is a follow-up.
    expect((await sessionOf(sessionId)).repository_id).toBe(repos[0]!.id);
    const same = eventCallback({ channel, user: "U0BOB", threadTs: ts, text: `${BOT} and the docs repo:${repos[0]!.name}` });
    await sendToSlackRoute(same.body);
    expect((await waitForDelivery(channel, same.ts)).status).toBe("followed_up");
  });

  it("uses the channel's default when the message names no repository, and an explicit repo: over it", async () => {
    const channel = newChannel();
    const set = await api(cookie)("PUT", `/api/slack/channels/${channel}`, { repositoryId: repos[2]!.id });
    expect(set.status).toBe(200);
    const plain = eventCallback({ channel, text: `${BOT} bump the lockfile` });
    await sendToSlackRoute(plain.body);
    expect((await sessionOf((await waitForDelivery(channel, plain.ts)).session_id!)).repository_id).toBe(repos[2]!.id);
    const explicit = eventCallback({ channel, text: `${BOT} bump it here repo:${repos[0]!.name}` });
    await sendToSlackRoute(explicit.body);
    expect((await sessionOf((await waitForDelivery(channel, explicit.ts)).session_id!)).repository_id).toBe(repos[0]!.id);
  });

  it("says so when an explicit repository is not registered, and starts nothing", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `${BOT} fix it repo:nobody/nothing` });
    await sendToSlackRoute(mention.body);
    const delivery = await waitForDelivery(channel, mention.ts);
    expect(delivery.status).toBe("skipped");
    expect(delivery.session_id).toBeNull();
    const calls = await waitForCalls((all) => (inChannel(all, channel, "chat.postMessage").length > 0 ? all : undefined));
    expect(String(inChannel(calls, channel, "chat.postMessage")[0]!.args.text)).toContain("nobody/nothing");
  });

  it("asks with a picker when nothing decides, remembers the pick for the thread and starts the parked request", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `${BOT} make the tests faster` });
    await sendToSlackRoute(mention.body);
    expect((await waitForDelivery(channel, mention.ts)).status).toBe("skipped");
    const picker = await waitForCalls((all) => inChannel(all, channel, "chat.postMessage")[0]);
    const select = JSON.stringify(picker.args.blocks);
    expect(select).toContain("lookout_pick_repository");
    for (const repo of repos) expect(select).toContain(repo.id);

    const pick = repositoryPick({ channel, pickerTs: picker.ts!, threadTs: mention.ts, repository: repos[1]! });
    const answered = await sendToSlackRoute(pick, INTERACTION);
    expect(answered.status).toBe(200);
    const started = await waitForDelivery(channel, mention.ts, ":picked");
    expect(started.status).toBe("started");
    expect((await sessionOf(started.session_id!)).repository_id).toBe(repos[1]!.id);
    // The picker message became the status message.
    const calls = await waitForCalls((all) =>
      inChannel(all, channel, "chat.update").some((c) => c.args.ts === picker.ts) ? all : undefined,
    );
    expect(inChannel(calls, channel, "chat.postMessage")).toHaveLength(1);

    const again = eventCallback({ channel, threadTs: mention.ts, text: `${BOT} and the lint step` });
    await sendToSlackRoute(again.body);
    const followUp = await waitForDelivery(channel, again.ts);
    expect(followUp.status).toBe("followed_up");
    expect(followUp.session_id).toBe(started.session_id);
  });

  it("lets a picker time out: a late pick starts nothing and the thread says what to do", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `${BOT} refactor the parser` });
    await sendToSlackRoute(mention.body);
    await waitForDelivery(channel, mention.ts);
    const picker = await waitForCalls((all) => inChannel(all, channel, "chat.postMessage")[0]);
    // Expired a minute ago, but no scheduler wake has replaced the picker yet: the pick itself finds it expired.
    await env.DB.prepare("UPDATE slack_threads SET picker_expires_at = ? WHERE channel_id = ?")
      .bind(Date.now() - 60_000, channel)
      .run();
    const pick = repositoryPick({ channel, pickerTs: picker.ts!, threadTs: mention.ts, repository: repos[0]! });
    await sendToSlackRoute(pick, INTERACTION);
    const calls = await waitForCalls((all) => (inChannel(all, channel, "chat.update").length > 0 ? all : undefined));
    expect(String(inChannel(calls, channel, "chat.update")[0]!.args.text)).toContain(
      "This request expired — mention me again with `repo:owner/name`",
    );
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE origin LIKE ?")
      .bind(`%${channel}%`)
      .first<{ n: number }>();
    expect(sessions!.n).toBe(0);
  });
});

describe("reports back to the thread", () => {
  it("posts the completion reply exactly once through the outbox and marks the status message finished", async () => {
    const { channel, ts, sessionId } = await startThread(`fix the plus sign repo:${repos[0]!.name}`);
    const origin = { kind: "slack" as const, teamId: FAKE_SLACK.teamId, channelId: channel, threadTs: ts };
    const pr: SessionOutcome = {
      kind: "pull-request",
      sessionId,
      origin,
      url: "https://github.com/acme/app/pull/7",
      title: "Fix plus signs",
      state: "open",
      at: Date.now(),
    };
    const finished: SessionOutcome = {
      kind: "prompt.finished",
      sessionId,
      origin,
      promptId: "prm_0000000000000000000001",
      status: "completed",
      error: null,
      summary: "Emails with a plus sign are now accepted; added a test.",
      at: Date.now(),
    };
    expect(await enqueueOutcome(env.DB, pr, Date.now())).toBe(true);
    expect(await enqueueOutcome(env.DB, finished, Date.now())).toBe(true);
    expect(await enqueueOutcome(env.DB, finished, Date.now())).toBe(false);
    const drainer = new OutboxDrainer(env);
    await drainer.drain(Date.now());
    await drainer.drain(Date.now());
    // A retry of a report already posted (a lost acknowledgement) edits the reply instead of posting again.
    const report = {
      idempotencyKey: idempotencyKeyOf(finished),
      sessionId,
      outcome: finished,
      status: "pending" as const,
      attempts: 2,
      nextAttemptAt: 0,
      lastError: null,
      createdAt: 0,
      deliveredAt: null,
    };
    await slackSink.deliver(env, report, report.idempotencyKey);

    const calls = inChannel(await slackCalls(), channel);
    const replies = calls.filter(
      (call) => call.method === "chat.postMessage" && String(call.args.text).includes("plus sign are now accepted"),
    );
    expect(replies).toHaveLength(1);
    expect(String(replies[0]!.args.text)).toContain(`/sessions/${sessionId}`);
    expect(String(replies[0]!.args.text)).toContain("https://github.com/acme/app/pull/7");
    expect(replies[0]!.args.thread_ts).toBe(ts);
    // The session's real prompt (still waiting for the fake sandbox) may show its own steps too.
    const status = calls.find(
      (call) => call.method === "chat.update" && call.args.ts !== replies[0]!.ts && String(call.args.text).includes("Finished"),
    )!;
    expect(status).toBeDefined();
    expect(JSON.stringify(status.args.blocks)).not.toContain("lookout_stop");
  });

  it("posts a failure with the reason and how to retry", async () => {
    const { channel, ts, sessionId } = await startThread(`break it repo:${repos[0]!.name}`);
    const failed: SessionOutcome = {
      kind: "prompt.finished",
      sessionId,
      origin: { kind: "slack", teamId: FAKE_SLACK.teamId, channelId: channel, threadTs: ts },
      promptId: "prm_0000000000000000000002",
      status: "failed",
      error: "the sandbox could not clone the repository",
      summary: null,
      at: Date.now(),
    };
    await enqueueOutcome(env.DB, failed, Date.now());
    await new OutboxDrainer(env).drain(Date.now());
    const reply = inChannel(await slackCalls(), channel, "chat.postMessage").find((call) => String(call.args.text).includes("It failed"))!;
    expect(String(reply.args.text)).toContain("the sandbox could not clone the repository");
    expect(String(reply.args.text)).toContain("Reply in this thread");
  });
});

describe("buttons and App Home", () => {
  it("the Stop button asks the session to stop as the person who pressed it; with nothing running yet they are told why, privately", async () => {
    const { channel, ts, sessionId } = await startThread(`long job repo:${repos[0]!.name}`);
    const status = await waitForCalls((all) => inChannel(all, channel, "chat.postMessage")[0]);
    const stop = blockAction({
      channel,
      messageTs: status.ts!,
      threadTs: ts,
      user: "U0BOB",
      action: { type: "button", action_id: "lookout_stop", value: sessionId },
    });
    expect((await sendToSlackRoute(stop, INTERACTION)).status).toBe(200);
    const calls = await waitForCalls((all) =>
      inChannel(all, channel).some(
        (call) =>
          (call.method === "chat.update" && String(call.args.text).includes("Stopping, as <@U0BOB> asked")) ||
          call.method === "chat.postEphemeral",
      )
        ? all
        : undefined,
    );
    const outcome = inChannel(calls, channel).filter(
      (call) => call.method === "chat.postEphemeral" || String(call.args.text).includes("Stopping"),
    );
    // The fake gateway never starts the sandbox, so the prompt is still queued: the session answers NOTHING_RUNNING.
    expect(outcome.map((call) => [call.method, call.args.user, call.args.text])).toEqual([
      ["chat.postEphemeral", "U0BOB", "Could not stop the session: No prompt is running."],
    ]);
  });

  it("App Home lists the person's recent sessions with links", async () => {
    const { sessionId } = await startThread(`home test repo:${repos[0]!.name}`, "U0ALICE");
    expect((await sendToSlackRoute(homeOpened("U0ALICE", "D0HOME"))).status).toBe(200);
    const publish = await waitForCalls((all) =>
      all.filter((call) => call.method === "views.publish" && call.args.user_id === "U0ALICE").at(-1),
    );
    expect(JSON.stringify(publish.args.view)).toContain(`/sessions/${sessionId}`);
  });

  it("App Home sets the person's default repository for DMs, which a DM naming none then works in", async () => {
    const dm = newChannel("D");
    await sendToSlackRoute(homeOpened("U0BOB", dm));
    const home = await waitForCalls((all) => all.filter((call) => call.method === "views.publish" && call.args.user_id === "U0BOB").at(-1));
    expect(JSON.stringify(home.args.view)).toContain(`home_default:${dm}`);

    const form = homeSelect({
      user: "U0BOB",
      actionId: "lookout_home_default_repository",
      blockId: `home_default:${dm}`,
      value: repos[2]!.id,
      text: repos[2]!.name,
    });
    expect((await sendToSlackRoute(form, INTERACTION)).status).toBe(200);
    await waitForCalls((all) => all.filter((call) => call.method === "views.publish" && call.args.user_id === "U0BOB").length >= 2);

    const message = eventCallback({ type: "message", channelType: "im", channel: dm, user: "U0BOB", text: "tidy the changelog" });
    await sendToSlackRoute(message.body);
    const delivery = await waitForDelivery(dm, message.ts);
    expect(delivery.status).toBe("started");
    expect((await sessionOf(delivery.session_id!)).repository_id).toBe(repos[2]!.id);
  });
});

describe("configuration and commands", () => {
  it("with SLACK_THREAD_REPLIES=any, a reply without a mention in a thread Lookout owns is a follow-up; elsewhere it is ignored", async () => {
    const { channel, ts, sessionId } = await startThread(`start here repo:${repos[0]!.name}`);
    const reply = eventCallback({
      type: "message",
      channelType: "channel",
      channel,
      user: "U0BOB",
      threadTs: ts,
      text: "and the footer too",
    });
    expect((await sendToSlackApp({ SLACK_THREAD_REPLIES: "any" }, reply.body)).status).toBe(200);
    const followUp = await waitForDelivery(channel, reply.ts);
    expect(followUp).toMatchObject({ status: "followed_up", session_id: sessionId });

    const stray = eventCallback({
      type: "message",
      channelType: "channel",
      channel,
      user: "U0BOB",
      threadTs: nextTs(),
      text: "unrelated chatter",
    });
    expect((await sendToSlackApp({ SLACK_THREAD_REPLIES: "any" }, stray.body)).status).toBe(200);
    const sameWithoutAny = eventCallback({
      type: "message",
      channelType: "channel",
      channel,
      user: "U0BOB",
      threadTs: ts,
      text: "not for the bot",
    });
    expect((await sendToSlackApp({}, sameWithoutAny.body)).status).toBe(200);
    const rows = await env.DB.prepare("SELECT delivery_id FROM trigger_deliveries WHERE delivery_id IN (?, ?)")
      .bind(`${FAKE_SLACK.teamId}:${channel}:${stray.ts}`, `${FAKE_SLACK.teamId}:${channel}:${sameWithoutAny.ts}`)
      .all();
    expect(rows.results).toEqual([]);
  });

  it("/lookout repo owner/name sets the channel's default, answered privately", async () => {
    const channel = newChannel();
    const command = new URLSearchParams({
      token: "unused",
      team_id: FAKE_SLACK.teamId,
      team_domain: "acme",
      channel_id: channel,
      channel_name: "general",
      user_id: "U0ALICE",
      user_name: "alice",
      command: "/lookout",
      text: `repo ${repos[1]!.name}`,
      response_url: "https://hooks.slack.test/commands/1",
      trigger_id: "1.2.3",
      api_app_id: "A0LOOKOUT",
    }).toString();
    expect(
      (await sendToSlackApp({}, command, { path: "/api/slack/commands", contentType: "application/x-www-form-urlencoded" })).status,
    ).toBe(200);
    const answer = inChannel(await slackCalls(), channel, "chat.postEphemeral")[0]!;
    expect(answer.args.user).toBe("U0ALICE");
    expect(String(answer.args.text)).toContain(repos[1]!.name);
    const stored = await env.DB.prepare("SELECT repository_id FROM slack_channel_defaults WHERE channel_id = ?").bind(channel).first();
    expect(stored).toEqual({ repository_id: repos[1]!.id });
  });
});
