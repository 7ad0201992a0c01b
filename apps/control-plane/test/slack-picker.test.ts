import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { PICKER_TIMEOUT_MS } from "../src/integrations/slack/picker-expiry";
import { type TriggerScheduler, schedulerStub } from "../src/triggers/scheduler-object";
import { api, login } from "./helpers";
import { FAKE_SLACK, type FakeSlackCall } from "./support/fake-slack";
import { blockAction, eventCallback, newChannel, sendToSlackRoute, slackCalls, waitForCalls, waitForDelivery } from "./support/slack";

const BOT = `<@${FAKE_SLACK.botUserId}>`;
const EXPIRED = "This request expired — mention me again with `repo:owner/name`";

let cookie: string;
const repos: string[] = [];

beforeAll(async () => {
  cookie = await login();
  // Two repositories and no channel default: a mention naming none gets the picker.
  for (let i = 0; i < 2; i += 1) {
    const name = `picker-${crypto.randomUUID().slice(0, 8)}`;
    const created = await api(cookie)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${name}`, name });
    expect(created.status).toBe(201);
    repos.push(created.json.repository.id);
  }
});

function inChannel(calls: FakeSlackCall[], channel: string, method: string): FakeSlackCall[] {
  return calls.filter((call) => call.method === method && call.args.channel === channel);
}

/** Mentions the bot with a request that names no repository, and waits for the picker it posts. */
async function askWithPicker(): Promise<{ channel: string; threadTs: string; picker: FakeSlackCall; expiresAt: number }> {
  const channel = newChannel();
  const mention = eventCallback({ channel, text: `${BOT} speed up the build` });
  expect((await sendToSlackRoute(mention.body)).status).toBe(200);
  expect((await waitForDelivery(channel, mention.ts)).status).toBe("skipped");
  const picker = await waitForCalls((all) => inChannel(all, channel, "chat.postMessage")[0]);
  expect(JSON.stringify(picker.args.blocks)).toContain("lookout_pick_repository");
  const row = await env.DB.prepare("SELECT picker_expires_at FROM slack_threads WHERE channel_id = ?")
    .bind(channel)
    .first<{ picker_expires_at: number }>();
  return { channel, threadTs: mention.ts, picker, expiresAt: row!.picker_expires_at };
}

describe("a repository picker nobody answers", () => {
  it("is replaced in place at its expiry by the scheduler, with no click, and a late pick then starts nothing", async () => {
    const before = Date.now();
    const { channel, threadTs, picker, expiresAt } = await askWithPicker();
    expect(expiresAt).toBeGreaterThanOrEqual(before + PICKER_TIMEOUT_MS);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + PICKER_TIMEOUT_MS);

    // Parking the request armed the scheduler's alarm for no later than the expiry.
    const alarm = await runInDurableObject(schedulerStub(env), (_instance: TriggerScheduler, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(expiresAt);

    // A wake just before the expiry leaves the picker alone.
    await schedulerStub(env).tick(expiresAt - 1);
    expect(inChannel(await slackCalls(), channel, "chat.update")).toEqual([]);

    // The wake at the expiry replaces the picker message itself.
    await schedulerStub(env).tick(expiresAt);
    const update = inChannel(await slackCalls(), channel, "chat.update");
    expect(update).toHaveLength(1);
    expect(update[0]!.args.ts).toBe(picker.ts);
    expect(String(update[0]!.args.text)).toContain(EXPIRED);
    expect(JSON.stringify(update[0]!.args.blocks)).not.toContain("lookout_pick_repository");
    const thread = await env.DB.prepare("SELECT pending_prompt FROM slack_threads WHERE channel_id = ?")
      .bind(channel)
      .first<{ pending_prompt: string | null }>();
    expect(thread!.pending_prompt).toBeNull();

    // Another wake does not expire it twice.
    await schedulerStub(env).tick(expiresAt + 60_000);
    expect(inChannel(await slackCalls(), channel, "chat.update")).toHaveLength(1);

    // A pick on the old message now only tells the person, privately.
    const pick = blockAction({
      channel,
      messageTs: picker.ts!,
      threadTs,
      action: {
        type: "static_select",
        action_id: "lookout_pick_repository",
        selected_option: { value: repos[0]!, text: { type: "plain_text", text: "x" } },
      },
    });
    await sendToSlackRoute(pick, { path: "/api/slack/interactions", contentType: "application/x-www-form-urlencoded" });
    const ephemeral = await waitForCalls((all) => inChannel(all, channel, "chat.postEphemeral")[0]);
    expect(String(ephemeral.args.text)).toContain("expired");
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE origin LIKE ?")
      .bind(`%${channel}%`)
      .first<{ n: number }>();
    expect(sessions!.n).toBe(0);
  });

  it("is not expired once someone picked: the scheduler leaves the started work's status message alone", async () => {
    const { channel, threadTs, picker, expiresAt } = await askWithPicker();
    const pick = blockAction({
      channel,
      messageTs: picker.ts!,
      threadTs,
      action: {
        type: "static_select",
        action_id: "lookout_pick_repository",
        selected_option: { value: repos[1]!, text: { type: "plain_text", text: "x" } },
      },
    });
    await sendToSlackRoute(pick, { path: "/api/slack/interactions", contentType: "application/x-www-form-urlencoded" });
    expect((await waitForDelivery(channel, threadTs, ":picked")).status).toBe("started");
    // The picker message has become the status message of the started work.
    await waitForCalls((all) =>
      inChannel(all, channel, "chat.update").some((call) => String(call.args.text).includes("Working on it")) ? all : undefined,
    );

    await schedulerStub(env).tick(expiresAt + 1);
    const updates = inChannel(await slackCalls(), channel, "chat.update");
    expect(updates.some((call) => String(call.args.text).includes(EXPIRED))).toBe(false);
  });
});
