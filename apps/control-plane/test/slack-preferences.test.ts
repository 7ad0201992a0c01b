import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../src/env";
import { api, login } from "./helpers";
import { FAKE_SLACK, type FakeSlackCall } from "./support/fake-slack";
import {
  INTERACTION,
  type SendOptions,
  eventCallback,
  homeOpened,
  homeSelect,
  newChannel,
  registerRepository,
  sendToSlackApp,
  slackCalls,
  waitForDelivery,
} from "./support/slack";

const BOT = `<@${FAKE_SLACK.botUserId}>`;
/** Two models offered, the scripted demo the default: a choice in App Home is visible in the session. */
const OFFERED: Partial<Env> = { MODELS: "scripted/demo,scripted/careful", DEFAULT_MODEL: "scripted/demo" };

let cookie: string;
let repoName: string;

beforeAll(async () => {
  cookie = await login();
  repoName = (await registerRepository(cookie, "prefs")).name;
});

/** Sends `body` to a Slack route signed like Slack, with two models offered, and waits for its background work. */
async function send(body: string, options: SendOptions = {}): Promise<number> {
  return (await sendToSlackApp(OFFERED, body, options)).status;
}

function modelChosen(user: string, blockId: string, model: string): string {
  return homeSelect({ user, actionId: "lookout_home_model", blockId, value: model, text: model });
}

async function lastHome(user: string): Promise<FakeSlackCall> {
  const home = (await slackCalls()).filter((call) => call.method === "views.publish" && call.args.user_id === user).at(-1);
  expect(home).toBeDefined();
  return home!;
}

/** The model select App Home shows: its block id, option values and the selected one. */
function modelSelect(home: FakeSlackCall): { blockId: string; options: string[]; selected: string | undefined } {
  const blocks = (home.args.view as { blocks: Record<string, any>[] }).blocks;
  const section = blocks.find((block) => block.accessory?.action_id === "lookout_home_model");
  expect(section).toBeDefined();
  return {
    blockId: section!.block_id,
    options: section!.accessory.options.map((option: { value: string }) => option.value),
    selected: section!.accessory.initial_option?.value,
  };
}

async function sessionModel(sessionId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT model FROM sessions WHERE id = ?").bind(sessionId).first<{ model: string }>();
  return row!.model;
}

describe("App Home's default model", () => {
  it("offers Lookout's models, and the one a person picks starts their sessions from DMs and mentions; others keep the default", async () => {
    const dm = newChannel("D");
    expect(await send(homeOpened("U0BOB", dm))).toBe(200);
    const offered = modelSelect(await lastHome("U0BOB"));
    expect(offered.options).toEqual(["scripted/demo", "scripted/careful"]);
    expect(offered.selected).toBe("scripted/demo");

    expect(await send(modelChosen("U0BOB", offered.blockId, "scripted/careful"), INTERACTION)).toBe(200);
    const republished = modelSelect(await lastHome("U0BOB"));
    expect(republished.selected).toBe("scripted/careful");
    // The view is published whole again: the DM's repository preference is still there.
    expect(JSON.stringify((await lastHome("U0BOB")).args.view)).toContain(`home_default:${dm}`);

    const direct = eventCallback({ type: "message", channelType: "im", channel: dm, user: "U0BOB", text: `tidy up repo:${repoName}` });
    expect(await send(direct.body)).toBe(200);
    const fromDm = await waitForDelivery(dm, direct.ts);
    expect(fromDm.status).toBe("started");
    expect(await sessionModel(fromDm.session_id!)).toBe("scripted/careful");

    const channel = newChannel();
    const mention = eventCallback({ channel, user: "U0BOB", text: `${BOT} fix the footer repo:${repoName}` });
    expect(await send(mention.body)).toBe(200);
    const fromMention = await waitForDelivery(channel, mention.ts);
    expect(fromMention.status).toBe("started");
    expect(await sessionModel(fromMention.session_id!)).toBe("scripted/careful");

    const elsewhere = newChannel();
    const someoneElse = eventCallback({ channel: elsewhere, user: "U0ALICE", text: `${BOT} fix the header repo:${repoName}` });
    expect(await send(someoneElse.body)).toBe(200);
    const theirs = await waitForDelivery(elsewhere, someoneElse.ts);
    expect(await sessionModel(theirs.session_id!)).toBe("scripted/demo");
  });

  it("ignores a model Lookout does not offer: nothing is stored and sessions keep the default", async () => {
    const dm = newChannel("D");
    expect(await send(homeOpened("U0BOB", dm))).toBe(200);
    await env.DB.prepare("DELETE FROM slack_user_preferences WHERE user_id = 'U0BOB'").run();
    const { blockId } = modelSelect(await lastHome("U0BOB"));
    expect(await send(modelChosen("U0BOB", blockId, "openai/gpt-5"), INTERACTION)).toBe(200);
    expect(await env.DB.prepare("SELECT * FROM slack_user_preferences WHERE user_id = 'U0BOB'").first()).toBeNull();

    const direct = eventCallback({
      type: "message",
      channelType: "im",
      channel: dm,
      user: "U0BOB",
      text: `rename a file repo:${repoName}`,
    });
    expect(await send(direct.body)).toBe(200);
    const delivery = await waitForDelivery(dm, direct.ts);
    expect(await sessionModel(delivery.session_id!)).toBe("scripted/demo");
  });
});

describe("a Slack person's Lookout identity", () => {
  it("takes their name and picture from users.info: the user created for them has the avatar, and so does the session's owner", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, user: "U0ALICE", text: `${BOT} add a favicon repo:${repoName}` });
    expect(await send(mention.body)).toBe(200);
    const delivery = await waitForDelivery(channel, mention.ts);
    expect(delivery.status).toBe("started");

    const user = await env.DB.prepare(
      `SELECT u.name, u.avatar_url, u.limited FROM external_identities e JOIN users u ON u.id = e.user_id
       WHERE e.provider = 'slack' AND e.external_id = 'U0ALICE'`,
    ).first<{ name: string; avatar_url: string | null; limited: number }>();
    expect(user).toEqual({ name: "alice", avatar_url: "https://avatars.slack-edge.test/U0ALICE-72.png", limited: 1 });

    const listed = await api(cookie)("GET", `/api/sessions?limit=50`);
    const session = (listed.json.sessions as { id: string; owner: { avatarUrl?: string } }[]).find((s) => s.id === delivery.session_id);
    expect(session?.owner.avatarUrl).toBe("https://avatars.slack-edge.test/U0ALICE-72.png");
  });

  it("keeps no picture for a person whose profile has none", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, user: "U0BOB", text: `${BOT} add a robots.txt repo:${repoName}` });
    expect(await send(mention.body)).toBe(200);
    expect((await waitForDelivery(channel, mention.ts)).status).toBe("started");
    const user = await env.DB.prepare(
      `SELECT u.avatar_url FROM external_identities e JOIN users u ON u.id = e.user_id WHERE e.provider = 'slack' AND e.external_id = 'U0BOB'`,
    ).first<{ avatar_url: string | null }>();
    expect(user).toEqual({ avatar_url: null });
  });
});
