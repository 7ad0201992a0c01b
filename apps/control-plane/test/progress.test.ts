import { env } from "cloudflare:test";
import type { SessionCommand, SessionOutcome } from "@lookout/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { OutboxReportStore } from "../src/db/outbox-reports";
import { OutboxDrainer, enqueueOutcome, idempotencyKeyOf, progressKeyOf } from "../src/triggers/outbox";
import { linearSink } from "../src/triggers/sinks/linear";
import { api, login, type Peer } from "./helpers";
import { FAKE_SLACK, type FakeSlackCall } from "./support/fake-slack";
import { activitiesFor, connectBridge, createdEvent, installLinear, newIssue, sendLinear, sessionFor } from "./support/linear";
import { eventCallback, newChannel, sendToSlackRoute, slackCalls, waitForCalls, waitForDelivery } from "./support/slack";

type PromptCommand = Extract<SessionCommand, { type: "command.prompt" }>;
const isPrompt = (m: SessionCommand): m is PromptCommand => m.type === "command.prompt";

let cookie: string;
let repository: { id: string; name: string };

beforeAll(async () => {
  cookie = await login();
  await installLinear(cookie);
  const name = `progress-${crypto.randomUUID().slice(0, 8)}`;
  const created = await api(cookie)("POST", "/api/repositories", { kind: "local", path: `/srv/repos/${name}`, name });
  expect(created.status).toBe(201);
  repository = { id: created.json.repository.id, name };
  const rules = await api(cookie)("PUT", "/api/linear/mappings", { rules: [{ kind: "team", value: "ENG", repositoryId: repository.id }] });
  expect(rules.status).toBe(200);
});

/** Plays the sandbox's side of one prompt, one event at a time. */
function player(bridge: Peer<SessionCommand>, promptId: string) {
  let bseq = 2;
  const send = (event: Record<string, unknown>) => bridge.send({ type: "bridge.event", bseq: bseq++, event: { promptId, ...event } });
  return {
    tool: (callId: string, tool: string, input: Record<string, unknown>, state: "running" | "completed") =>
      send({ type: "tool.call", callId, tool, input, state }),
    finish: (summary: string) => {
      send({ type: "message.text", messageId: "m1", text: summary, role: "assistant" });
      send({ type: "prompt.finished", status: "completed" });
    },
  };
}

function statusUpdates(calls: FakeSlackCall[], channel: string, statusTs: string): string[] {
  return calls
    .filter((c) => c.method === "chat.update" && c.args.channel === channel && c.args.ts === statusTs)
    .map((c) => String(c.args.text));
}

describe("live progress to a Slack thread", () => {
  it("updates the thread's one status message in place with each step while the prompt runs, and Finished last", async () => {
    const channel = newChannel();
    const mention = eventCallback({ channel, text: `<@${FAKE_SLACK.botUserId}> make the tests pass repo:${repository.name}` });
    expect((await sendToSlackRoute(mention.body)).status).toBe(200);
    const delivery = await waitForDelivery(channel, mention.ts);
    expect(delivery.status).toBe("started");
    const status = await waitForCalls((all) => all.find((c) => c.method === "chat.postMessage" && c.args.channel === channel));
    const bridge = await connectBridge(delivery.session_id!);
    const prompt = await bridge.waitFor(isPrompt);
    const play = player(bridge, prompt.promptId);

    play.tool("c1", "bash", { command: "pnpm test" }, "running");
    const running = await waitForCalls(
      (all) =>
        all.find((c) => c.method === "chat.update" && c.args.ts === status.ts && String(c.args.text).includes("Running `pnpm test`")),
      10_000,
    );
    // While it runs, the Stop button stays.
    expect(JSON.stringify(running.args.blocks)).toContain("lookout_stop");
    play.tool("c1", "bash", { command: "pnpm test" }, "completed");
    play.tool("c2", "edit", { filePath: "src/retry.ts" }, "running");
    await waitForCalls((all) => statusUpdates(all, channel, status.ts!).some((text) => text.includes("Editing src/retry.ts")), 10_000);
    play.finish("The tests pass now.");
    await waitForCalls((all) => statusUpdates(all, channel, status.ts!).some((text) => text.includes("Finished")), 10_000);
    bridge.close();

    const updates = statusUpdates(await slackCalls(), channel, status.ts!);
    const at = (text: string) => updates.findIndex((update) => update.includes(text));
    expect(at("Running `pnpm test`")).toBeGreaterThanOrEqual(0);
    expect(at("Running `pnpm test`")).toBeLessThan(at("Editing src/retry.ts"));
    expect(at("Editing src/retry.ts")).toBeLessThan(at("Finished"));
    expect(updates.at(-1)).toContain("Finished");
    // No second status message: every step edited the one posted when the session started.
    expect(
      (await slackCalls()).filter((c) => c.method === "chat.postMessage" && c.args.channel === channel && c.args.text === status.args.text),
    ).toHaveLength(1);
    // Its waits allow 10 s each; the first Slack request an isolate serves also loads Bolt (ADR 0016).
  }, 30_000);
});

describe("live progress to a Linear agent session", () => {
  it("posts an action per tool step while the prompt runs, before the response, and each once however often it is sent", async () => {
    const issue = newIssue();
    await sendLinear(createdEvent(issue));
    const sessionId = await sessionFor(issue.agentSessionId);
    const bridge = await connectBridge(sessionId);
    const prompt = await bridge.waitFor(isPrompt);
    const play = player(bridge, prompt.promptId);
    // The wait before the agent worked shows as a passing thought (a newer step sent before it was
    // delivered would replace it, so the tool step waits for it).
    await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.ephemeral && x.content.type === "thought"));

    play.tool("c1", "bash", { command: "pnpm test" }, "running");
    const during = await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.content.type === "action"));
    expect(during.find((x) => x.content.type === "action")?.content).toEqual({ type: "action", action: "Ran", parameter: "pnpm test" });
    // The wait before the agent worked showed as a passing thought.
    expect(during.filter((x) => x.ephemeral).map((x) => x.content.type)).toContain("thought");

    play.tool("c1", "bash", { command: "pnpm test" }, "completed");
    play.tool("c2", "bash", { command: "git diff" }, "completed");
    play.tool("c3", "edit", { filePath: "src/retry.ts" }, "running");
    play.tool("c3", "edit", { filePath: "src/retry.ts" }, "completed");
    play.finish("Capped the retries.");
    const activities = await activitiesFor(issue.agentSessionId, (a) => a.some((x) => x.content.type === "response"));
    bridge.close();

    const lasting = activities.filter((a) => !a.ephemeral);
    expect(lasting.map((a) => a.content.type)).toEqual(["thought", "action", "action", "response"]);
    expect(lasting.map((a) => a.content.parameter ?? null)).toEqual([null, "pnpm test", "src/retry.ts", null]);

    // The final report and the last step sent again (a lost acknowledgement) post nothing new.
    const finished = await new OutboxReportStore(env.DB).get(
      idempotencyKeyOf({ kind: "prompt.finished", sessionId, promptId: prompt.promptId } as SessionOutcome),
    );
    const progress = await new OutboxReportStore(env.DB).get(progressKeyOf(sessionId, prompt.promptId));
    expect(finished?.status).toBe("delivered");
    expect(progress).not.toBeNull();
    for (const report of [finished!, { ...progress!, previouslyDelivered: null }]) {
      await linearSink.deliver(env, report, report.idempotencyKey);
    }
    const again = await activitiesFor(issue.agentSessionId, () => true);
    expect(again).toHaveLength(activities.length);
  });
});

describe("progress in the outbox", () => {
  const origin = { kind: "slack" as const, teamId: FAKE_SLACK.teamId, channelId: "C0PROGRESS", threadTs: "1800000999.000001" };
  const step = (sessionId: string, promptId: string, text: string, at: number): SessionOutcome => ({
    kind: "progress",
    sessionId,
    origin,
    promptId,
    step: { kind: "running", text },
    actions: [],
    at,
  });

  it("keeps one row per prompt: a newer step replaces one not yet sent, an older one never replaces a newer", async () => {
    const sessionId = `ses_${crypto.randomUUID().replace(/-/g, "").slice(0, 22)}`;
    const now = Date.now();
    expect(await enqueueOutcome(env.DB, step(sessionId, "prm_1", "Running `ls`", now), now)).toBe(true);
    expect(await enqueueOutcome(env.DB, step(sessionId, "prm_1", "Running `pnpm test`", now + 1), now + 1)).toBe(true);
    expect(await enqueueOutcome(env.DB, step(sessionId, "prm_1", "Running `late`", now - 5), now + 2)).toBe(false);
    const rows = await env.DB.prepare("SELECT outcome_json, revision FROM outbox_reports WHERE session_id = ?").bind(sessionId).all<{
      outcome_json: string;
      revision: number;
    }>();
    expect(rows.results).toHaveLength(1);
    expect(JSON.parse(rows.results[0]!.outcome_json).step.text).toBe("Running `pnpm test`");
    expect(rows.results[0]!.revision).toBe(1);
    // Dashboard and GitHub origins take no steps.
    expect(await enqueueOutcome(env.DB, { ...step(sessionId, "prm_2", "x", now), origin: { kind: "dashboard" } }, now)).toBe(false);
    const github = { kind: "github" as const, repository: "acme/app", pullRequest: 1 };
    expect(await enqueueOutcome(env.DB, { ...step(sessionId, "prm_2", "x", now), origin: github }, now)).toBe(false);
  });

  it("sends a step that arrived while an older one was being sent as a delivery of its own, and remembers what was sent", async () => {
    const sessionId = `ses_${crypto.randomUUID().replace(/-/g, "").slice(0, 22)}`;
    const store = new OutboxReportStore(env.DB);
    const key = progressKeyOf(sessionId, "prm_1");
    const now = Date.now();
    const first = step(sessionId, "prm_1", "Running `ls`", now);
    await enqueueOutcome(env.DB, first, now);
    const claimed = await store.claim(key, now, now + 60_000);
    expect(claimed?.revision).toBe(0);
    // A newer step is written while the older one is on its way.
    await enqueueOutcome(env.DB, step(sessionId, "prm_1", "Running `pnpm test`", now + 1), now + 1);
    expect(await store.markDelivered(key, now + 2, claimed!.revision, JSON.stringify(first))).toBe(false);
    const after = await store.get(key);
    expect(after).toMatchObject({ status: "pending", revision: 1, previouslyDelivered: first });
    expect(after!.outcome).toMatchObject({ step: { text: "Running `pnpm test`" } });
    // Released at once for its own delivery, which then counts.
    const again = await store.claim(key, now + 3, now + 60_000);
    expect(again?.revision).toBe(1);
    expect(await store.markDelivered(key, now + 4, 1, JSON.stringify(again!.outcome))).toBe(true);
    expect(await store.get(key)).toMatchObject({ status: "delivered", previouslyDelivered: again!.outcome });
  });

  it("never shows a step after the prompt's final report: a waiting step is closed, a later one is refused", async () => {
    const channel = newChannel();
    const threadOrigin = { ...origin, channelId: channel, threadTs: "1800000998.000001" };
    const sessionId = `ses_${crypto.randomUUID().replace(/-/g, "").slice(0, 22)}`;
    const now = Date.now();
    const early: SessionOutcome = { ...step(sessionId, "prm_1", "Running `pnpm test`", now), origin: threadOrigin };
    const finished: SessionOutcome = {
      kind: "prompt.finished",
      sessionId,
      origin: threadOrigin,
      promptId: "prm_1",
      status: "completed",
      error: null,
      summary: "Done.",
      at: now + 1,
    };
    expect(await enqueueOutcome(env.DB, early, now)).toBe(true);
    expect(await enqueueOutcome(env.DB, finished, now + 1)).toBe(true);
    expect(await enqueueOutcome(env.DB, { ...early, at: now + 2 }, now + 2)).toBe(false);
    await new OutboxDrainer(env).drain(now + 3);
    const texts = (await slackCalls()).filter((c) => c.args.channel === channel).map((c) => String(c.args.text));
    expect(texts.some((text) => text.includes("Finished"))).toBe(true);
    expect(texts.some((text) => text.includes("pnpm test"))).toBe(false);
    const progress = await new OutboxReportStore(env.DB).get(progressKeyOf(sessionId, "prm_1"));
    expect(progress).toMatchObject({ status: "delivered", deliveredAt: null, lastError: "superseded by the final report" });
  });
});
