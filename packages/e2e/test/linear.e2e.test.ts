import { createHmac, randomUUID } from "node:crypto";
import type { SessionSummary } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, type Stack, startStack } from "../src";
import { FAKE_LINEAR_CLIENT, type FakeLinear, type FakeLinearActivity, startFakeLinear } from "../src/fake-linear";

/**
 * The Linear agent on the real stack (wrangler dev, the gateway's bubblewrap sandboxes, OpenCode and
 * the scripted model) against a fake Linear: a signed `created` event is answered at once, a thought
 * reaches Linear before the session exists, the session runs to completion with the offline model,
 * and the report arrives through the outbox — every activity exactly once.
 */
const WEBHOOK_SECRET = "e2e-linear-webhook-secret";
/** Linear's own deadlines. */
const ANSWER_DEADLINE_MS = 5_000;
const FIRST_ACTIVITY_DEADLINE_MS = 10_000;
/** A sandbox starts, clones, runs OpenCode, and the outbox reports the settled prompt. */
const SESSION_TIMEOUT_MS = 150_000;
const POLL_MS = 250;

let stack: Stack;
let linear: FakeLinear;
let cookie: string;

beforeAll(async () => {
  linear = await startFakeLinear();
  stack = await startStack({
    vars: {
      LINEAR_WEBHOOK_SECRET: WEBHOOK_SECRET,
      LINEAR_CLIENT_ID: FAKE_LINEAR_CLIENT.id,
      LINEAR_CLIENT_SECRET: FAKE_LINEAR_CLIENT.secret,
      LINEAR_API_URL: `${linear.url}/graphql`,
      LINEAR_OAUTH_TOKEN_URL: `${linear.url}/oauth/token`,
    },
  });
  cookie = await stack.login();
  const created = await apiClient(stack.url, cookie)("POST", "/api/repositories", {
    kind: "local",
    path: createRepoFixture(),
    name: "fixture",
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
  await linear?.close();
});

async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n${stack.logs().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Installs Lookout in the fake workspace through the real OAuth routes. */
async function install(): Promise<void> {
  const start = await fetch(`${stack.url}/api/linear/install`, { headers: { cookie }, redirect: "manual" });
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.get("location") ?? "");
  expect(authorize.searchParams.get("actor")).toBe("app");
  expect(authorize.searchParams.get("scope")).toBe("read,write,app:assignable,app:mentionable");
  const back = await fetch(`${stack.url}/api/linear/oauth/callback?code=e2e-code&state=${authorize.searchParams.get("state")}`, {
    headers: { cookie },
    redirect: "manual",
  });
  expect(back.status).toBe(302);
}

function activitiesOf(agentSessionId: string): FakeLinearActivity[] {
  return linear.state.activities.filter((activity) => activity.agentSessionId === agentSessionId);
}

describe("a Linear agent session on the real stack", () => {
  it("runs a signed created event to a completed session and reports back once", async () => {
    await install();
    const agentSessionId = `as-${randomUUID()}`;
    const issueId = `issue-${randomUUID()}`;
    const body = JSON.stringify({
      type: "AgentSessionEvent",
      action: "created",
      organizationId: "org-acme",
      webhookId: "webhook-e2e",
      webhookTimestamp: Date.now(),
      promptContext: '<issue identifier="ENG-7"><title>Greet politely</title></issue>',
      agentSession: {
        id: agentSessionId,
        issue: { id: issueId, identifier: "ENG-7", title: "Greet politely", teamId: "team-eng", team: { key: "ENG" } },
        creator: { id: "linear-user-ada", name: "Ada" },
      },
    });
    const sentAt = Date.now();
    const answer = await fetch(`${stack.url}/api/linear/webhook`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "linear-delivery": randomUUID(),
        "linear-signature": createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex"),
      },
      body,
    });
    expect(answer.status).toBe(200);
    expect(Date.now() - sentAt).toBeLessThan(ANSWER_DEADLINE_MS);

    const thought = await eventually(() => activitiesOf(agentSessionId)[0], FIRST_ACTIVITY_DEADLINE_MS, "the first activity");
    expect(thought.content.type).toBe("thought");
    expect(thought.at - sentAt).toBeLessThan(FIRST_ACTIVITY_DEADLINE_MS);

    const update = await eventually(() => linear.state.sessionUpdates.find((u) => u.id === agentSessionId), 20_000, "the external URL");
    const url = (update.input as { externalUrls: { url: string }[] }).externalUrls[0]?.url ?? "";
    const sessionId = url.split("/sessions/")[1] ?? "";
    expect(url).toBe(`${stack.url}/sessions/${sessionId}`);
    const session = await apiClient(stack.url, cookie)<{ session: SessionSummary }>("GET", `/api/sessions/${sessionId}`);
    expect(session.json.session.origin).toEqual({ kind: "linear", agentSessionId, issueId });
    expect(thought.at).toBeLessThanOrEqual(update.at);

    const final = await eventually(
      () => activitiesOf(agentSessionId).find((a) => a.content.type === "response" || a.content.type === "error"),
      SESSION_TIMEOUT_MS,
      "the final report",
    );
    expect(final.content.type).toBe("response");
    expect(final.content.body).toContain(`/sessions/${sessionId}`);
    const all = activitiesOf(agentSessionId);
    expect(all.filter((a) => a.content.type === "response" || a.content.type === "error")).toHaveLength(1);
    // One lasting thought; the waiting steps (starting, cloning) were ephemeral ones Linear replaces.
    expect(all.filter((a) => a.content.type === "thought" && !a.ephemeral)).toHaveLength(1);
    expect(new Set(all.map((a) => a.id)).size).toBe(all.length);
    expect(all.at(-1)).toBe(final);
    // The demo script's tool calls showed as actions while the prompt ran: the first before it finished.
    const action = all.find((a) => a.content.type === "action");
    expect(action, `activities: ${JSON.stringify(all.map((a) => a.content))}`).toBeDefined();
    const events = await apiClient(stack.url, cookie)<{ events: { at: number; payload: { type: string } }[] }>(
      "GET",
      `/api/sessions/${sessionId}/events?limit=500`,
    );
    const finishedAt = events.json.events.find((e) => e.payload.type === "prompt.finished")?.at ?? 0;
    expect(action!.at).toBeLessThanOrEqual(finishedAt);
    expect(all.indexOf(action!)).toBeLessThan(all.indexOf(final));
  });
});
