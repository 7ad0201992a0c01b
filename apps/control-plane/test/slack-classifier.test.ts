import { env } from "cloudflare:test";
import type { ModelCompleteRequest } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { api, login } from "./helpers";
import { FAKE_SLACK, type FakeSlackCall } from "./support/fake-slack";
import { eventCallback, newChannel, sendToSlackRoute, waitForCalls, waitForDelivery } from "./support/slack";

/**
 * Slack routing through the classifier: a request that names no repository, in a channel without a
 * default, is classified by the gateway's model (the fake gateway answers as the test tells it).
 */

const BOT = `<@${FAKE_SLACK.botUserId}>`;
let cookie: string;
const repos: { id: string; name: string }[] = [];

async function registerRepository(description: string): Promise<{ id: string; name: string }> {
  const name = `classified-${crypto.randomUUID().slice(0, 8)}`;
  const created = await api(cookie)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${name}`, name, description });
  expect(created.status).toBe(201);
  return { id: created.json.repository.id, name };
}

/** Tells the fake gateway's model what to answer to a prompt that contains `marker`. */
async function modelAnswers(marker: string, answer: unknown): Promise<void> {
  const response = await env.GATEWAY!.fetch("https://gateway.test/__fake/model", {
    method: "POST",
    body: JSON.stringify({ contains: marker, answer: JSON.stringify(answer) }),
  });
  expect(response.status).toBe(200);
}

async function modelCalls(marker: string): Promise<ModelCompleteRequest[]> {
  const state = await (await env.GATEWAY!.fetch("https://gateway.test/__fake/state")).json<{ model: { calls: ModelCompleteRequest[] } }>();
  return state.model.calls.filter((call) => call.user.includes(marker));
}

function inChannel(calls: FakeSlackCall[], channel: string, method: string): FakeSlackCall[] {
  return calls.filter((call) => call.args.channel === channel && call.method === method);
}

/** A word of its own for a test, so its prompt (and the fake's answer to it) is told apart from others'. */
const marker = () => `zq${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  cookie = await login();
  repos.push(
    await registerRepository("Invoices, payments and the checkout."),
    await registerRepository("The marketing site and its blog."),
    await registerRepository("Terraform for production."),
  );
});

describe("a Slack request that names no repository", () => {
  it("starts its session on the repository the classifier picks, says so in the status message, and remembers it for the thread", async () => {
    const word = marker();
    const picked = repos[1]!;
    await modelAnswers(word, { repository: picked.name, confidence: 0.9 });
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `${BOT} the blog's ${word} page has a typo` });
    expect((await sendToSlackRoute(mention.body)).status).toBe(200);

    const delivery = await waitForDelivery(channel, mention.ts);
    expect(delivery.status).toBe("started");
    const session = await env.DB.prepare("SELECT repository_id FROM sessions WHERE id = ?")
      .bind(delivery.session_id)
      .first<{ repository_id: string }>();
    expect(session?.repository_id).toBe(picked.id);
    const thread = await env.DB.prepare("SELECT repository_id FROM slack_threads WHERE channel_id = ? AND thread_ts = ?")
      .bind(channel, mention.ts)
      .first<{ repository_id: string }>();
    expect(thread?.repository_id).toBe(picked.id);

    // The model was asked once, with the request fenced as untrusted and every repository described.
    const [asked, ...more] = await modelCalls(word);
    expect(more).toHaveLength(0);
    expect(asked!.user).toMatch(/^```untrusted\nthe blog's zq[0-9a-f]{8} page has a typo\n```$/m);
    expect(asked!.user).not.toContain(BOT);
    for (const repo of repos) expect(asked!.user).toContain(`- ${repo.name}: `);
    expect(asked!.user).toContain(`- ${picked.name}: The marketing site and its blog.`);

    // The status message names the pick and how to choose another, from the start and once the session runs.
    const calls = await waitForCalls((all) =>
      inChannel(all, channel, "chat.update").some((call) => String(call.args.text).includes("Working on it")) ? all : undefined,
    );
    const starting = inChannel(calls, channel, "chat.postMessage")[0]!;
    const working = inChannel(calls, channel, "chat.update").find((call) => String(call.args.text).includes("Working on it"))!;
    for (const status of [starting, working]) {
      expect(String(status.args.text)).toContain(`Picked ${picked.name} from the message`);
      expect(String(status.args.text)).toContain("`repo:owner/name`");
    }

    // A reply in the thread goes to the same session without asking the model again.
    const reply = eventCallback({ channel, threadTs: mention.ts, text: `${BOT} also the ${word} footer` });
    expect((await sendToSlackRoute(reply.body)).status).toBe(200);
    const followUp = await waitForDelivery(channel, reply.ts);
    expect(followUp).toMatchObject({ status: "followed_up", session_id: delivery.session_id });
    expect(await modelCalls(word)).toHaveLength(1);
  });

  it("asks with the picker when the classifier is not confident, and starts nothing", async () => {
    const word = marker();
    await modelAnswers(word, { repository: repos[0]!.name, confidence: 0.4 });
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `${BOT} make ${word} faster` });
    expect((await sendToSlackRoute(mention.body)).status).toBe(200);

    const delivery = await waitForDelivery(channel, mention.ts);
    expect(delivery).toMatchObject({ status: "skipped", reason: "waiting for someone to pick the repository", session_id: null });
    expect(await modelCalls(word)).toHaveLength(1);
    const picker = await waitForCalls((all) => inChannel(all, channel, "chat.postMessage")[0]);
    const blocks = JSON.stringify(picker.args.blocks);
    expect(blocks).toContain("lookout_pick_repository");
    for (const repo of repos) expect(blocks).toContain(repo.id);
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE origin LIKE ?")
      .bind(`%${channel}%`)
      .first<{ n: number }>();
    expect(sessions?.n).toBe(0);
  });

  it("asks with the picker when the classifier names a repository that is not registered", async () => {
    const word = marker();
    await modelAnswers(word, { repository: "acme/not-registered", confidence: 0.99 });
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `${BOT} ${word} is broken` });
    expect((await sendToSlackRoute(mention.body)).status).toBe(200);
    expect(await waitForDelivery(channel, mention.ts)).toMatchObject({ status: "skipped", session_id: null });
    const picker = await waitForCalls((all) => inChannel(all, channel, "chat.postMessage")[0]);
    expect(JSON.stringify(picker.args.blocks)).toContain("lookout_pick_repository");
  });
});
