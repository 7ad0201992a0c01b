import type { Automation, AutomationRun, SessionEvent, SessionSummary, TriggerAck, WebhookKeyResponse } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, sentryEventAlertPayload, sentryHeaders, sentryIssuePayload, type Stack, startStack } from "../src";

/**
 * Triggers on the real stack (wrangler dev, the gateway's bubblewrap sandboxes, OpenCode and the
 * scripted model): a cron slot, an inbound webhook and Sentry alerts each reach a session that
 * completes, through the public endpoints only. Cron fires on a real slot under the scheduler's own
 * alarm with the default limits: a daily schedule passes the 15-minute minimum interval, and set
 * for the coming minute its first slot is at most 90 seconds away.
 */
let stack: Stack;
let call: ReturnType<typeof apiClient>;
let repositoryId: string;

const SENTRY_CLIENT_SECRET = "e2e-sentry-client-secret-0123456789abcdef";
/** The cron slot is at least this far ahead when the automation is created, so it cannot pass meanwhile. */
const CRON_SLOT_LEAD_MS = 30_000;
/** After its slot, the alarm fires a schedule within seconds. */
const CRON_FIRE_TIMEOUT_MS = 30_000;
/** A sandbox starts, clones, runs OpenCode and the report reaches the run. */
const SESSION_TIMEOUT_MS = 150_000;
/** The cron test waits for its slot, then for its session. */
const CRON_TEST_TIMEOUT_MS = 300_000;
/** A delivery is processed after its acknowledgement, under `waitUntil`. */
const BACKGROUND_TIMEOUT_MS = 20_000;
const POLL_MS = 250;

beforeAll(async () => {
  stack = await startStack();
  call = apiClient(stack.url, await stack.login());
  const created = await call<{ repository: { id: string } }>("POST", "/api/repositories", {
    kind: "local",
    path: createRepoFixture(),
    name: "fixture",
  });
  expect(created.status).toBe(201);
  repositoryId = created.json.repository.id;
});

afterAll(async () => {
  await stack?.stop();
});

/** Polls `probe` until it returns a value, or fails with `what` at the deadline. */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n${stack.logs().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function createAutomation(name: string, trigger: Automation["trigger"], instructions: string): Promise<Automation> {
  const created = await call<{ automation: Automation }>("POST", "/api/automations", { name, instructions, repositoryId, trigger });
  expect(created.status).toBe(201);
  return created.json.automation;
}

async function runsOf(automationId: string): Promise<AutomationRun[]> {
  const listed = await call<{ runs: AutomationRun[] }>("GET", `/api/automations/${automationId}/runs`);
  expect(listed.status).toBe(200);
  return listed.json.runs;
}

/** Waits for a run of the automation that `matches`. */
function runOf(automationId: string, matches: (run: AutomationRun) => boolean, timeoutMs: number, what: string): Promise<AutomationRun> {
  return eventually(async () => (await runsOf(automationId)).find(matches), timeoutMs, what);
}

/** Waits for the run to settle (its session reported through the outbox) and returns it. */
function settled(run: AutomationRun, timeoutMs = SESSION_TIMEOUT_MS): Promise<AutomationRun> {
  return runOf(
    run.automationId!,
    (r) => r.id === run.id && r.status !== "starting" && r.status !== "running",
    timeoutMs,
    `run ${run.id} to settle`,
  );
}

async function eventsOf(sessionId: string): Promise<SessionEvent[]> {
  const read = await call<{ events: SessionEvent[] }>("GET", `/api/sessions/${sessionId}/events?after=0&limit=1000`);
  expect(read.status).toBe(200);
  return read.json.events;
}

async function sessions(): Promise<SessionSummary[]> {
  const listed = await call<{ sessions: SessionSummary[] }>("GET", "/api/sessions?limit=100");
  expect(listed.status).toBe(200);
  return listed.json.sessions;
}

/** Sessions that an automation's runs started. */
async function sessionsStartedBy(automationId: string): Promise<SessionSummary[]> {
  return (await sessions()).filter((s) => s.origin?.kind === "automation" && s.origin.automationId === automationId);
}

function promptsOf(events: SessionEvent[]): { promptId: string; text: string }[] {
  return events.flatMap((e) => (e.payload.type === "prompt.queued" ? [{ promptId: e.payload.promptId, text: e.payload.text }] : []));
}

function finishedStatusOf(events: SessionEvent[], promptId: string): string | undefined {
  const finished = events.find((e) => e.payload.type === "prompt.finished" && e.payload.promptId === promptId);
  return finished?.payload.type === "prompt.finished" ? finished.payload.status : undefined;
}

function assistantText(events: SessionEvent[]): string {
  return events.flatMap((e) => (e.payload.type === "message.text" && e.payload.role === "assistant" ? [e.payload.text] : [])).join("\n");
}

/** The session a run started: its origin names the run, and its one prompt completed with the offline model. */
async function expectCompletedSession(run: AutomationRun, trigger: string, reply: string): Promise<SessionEvent[]> {
  expect(run).toMatchObject({ status: "succeeded", reason: null, reportError: null });
  const detail = await call<{ session: { origin?: unknown } }>("GET", `/api/sessions/${run.sessionId}`);
  expect(detail.json.session.origin).toEqual({ kind: "automation", automationId: run.automationId, runId: run.id, trigger });
  const events = await eventsOf(run.sessionId!);
  const [prompt] = promptsOf(events);
  expect(finishedStatusOf(events, prompt!.promptId)).toBe("completed");
  expect(assistantText(events)).toContain(reply);
  return events;
}

describe("a cron automation", () => {
  it(
    "fires on its next slot under the scheduler's own alarm and starts a session that completes",
    async () => {
      // Every day at the first whole minute at least CRON_SLOT_LEAD_MS from now (UTC).
      const slot = new Date(Math.ceil((Date.now() + CRON_SLOT_LEAD_MS) / 60_000) * 60_000);
      const expression = `${slot.getUTCMinutes()} ${slot.getUTCHours()} * * *`;
      const automation = await createAutomation(
        "Daily at the coming minute",
        { kind: "cron", expression, timeZone: "UTC" },
        "echo cron slot fired",
      );
      expect(automation.nextRunAt).toBe(slot.getTime());

      const run = await runOf(
        automation.id,
        (r) => r.trigger === "cron",
        slot.getTime() - Date.now() + CRON_FIRE_TIMEOUT_MS,
        `the cron slot at ${slot.toISOString()} to fire`,
      );
      expect(run.scheduledFor).toBe(slot.getTime());
      expect(run.createdAt).toBeGreaterThanOrEqual(slot.getTime());

      await expectCompletedSession(await settled(run), "cron", "cron slot fired");
      expect(await runsOf(automation.id)).toHaveLength(1);
      expect(await sessionsStartedBy(automation.id)).toHaveLength(1);
      // The schedule moved on to the same minute tomorrow.
      const after = await call<{ automation: Automation }>("GET", `/api/automations/${automation.id}`);
      expect(after.json.automation.nextRunAt).toBe(slot.getTime() + 24 * 60 * 60 * 1000);
    },
    CRON_TEST_TIMEOUT_MS,
  );
});

describe("an inbound webhook", () => {
  /** A webhook automation that starts work only for `{"action": "opened"}`, with its key. */
  async function webhookAutomation(name: string, instructions: string): Promise<{ automation: Automation; key: string }> {
    const automation = await createAutomation(name, { kind: "webhook" }, instructions);
    const saved = await call("PUT", `/api/triggers/webhooks/${automation.id}/settings`, {
      conditions: [{ path: "$.action", op: "equals", value: "opened" }],
      template: "Ticket {{$.ticket.id}}: {{$.ticket.title}}",
    });
    expect(saved.status).toBe(200);
    const issued = await call<WebhookKeyResponse>("POST", `/api/triggers/webhooks/${automation.id}/key`);
    expect(issued.status).toBe(201);
    return { automation, key: issued.json.key };
  }

  async function deliver(automationId: string, key: string, payload: unknown): Promise<{ status: number; ack: TriggerAck }> {
    const response = await fetch(`${stack.url}/api/triggers/webhooks/${automationId}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-lookout-webhook-key": key },
      body: JSON.stringify(payload),
    });
    return { status: response.status, ack: (await response.json()) as TriggerAck };
  }

  it("acknowledges a delivery whose conditions hold and starts a session that completes with the payload in its prompt", async () => {
    const { automation, key } = await webhookAutomation("Ticket opened", "echo webhook delivery handled");
    const delivered = await deliver(automation.id, key, { action: "opened", ticket: { id: 4121, title: "Checkout button is grey" } });
    expect(delivered).toMatchObject({ status: 202, ack: { ok: true, duplicate: false } });

    const run = await runOf(
      automation.id,
      (r) => r.trigger === "webhook" && r.sessionId !== null,
      BACKGROUND_TIMEOUT_MS,
      "the webhook run",
    );
    const events = await expectCompletedSession(await settled(run), "webhook", "webhook delivery handled");
    // The template rendered the payload into the prompt's untrusted block, after the instructions.
    const [prompt] = promptsOf(events);
    expect(prompt!.text).toMatch(/^echo webhook delivery handled\n/);
    expect(prompt!.text).toContain("untrusted webhook payload");
    expect(prompt!.text).toContain("Ticket 4121: Checkout button is grey");
  });

  it("starts nothing for a delivery whose JSONPath condition fails, and its run history says why", async () => {
    const { automation, key } = await webhookAutomation("Ticket opened (filtered)", "echo this should not run");
    const before = (await sessions()).length;
    const delivered = await deliver(automation.id, key, { action: "closed", ticket: { id: 4122, title: "Already fixed" } });
    // Acknowledged like any verified delivery: a condition decides what happens, not whether it is received.
    expect(delivered).toMatchObject({ status: 202, ack: { ok: true, duplicate: false } });

    const run = await runOf(automation.id, (r) => r.trigger === "webhook", BACKGROUND_TIMEOUT_MS, "the filtered delivery's run");
    expect(run).toMatchObject({
      status: "skipped",
      sessionId: null,
      reason: 'condition $.action equals "opened" does not hold: it selects ["closed"]',
    });
    expect(await runsOf(automation.id)).toHaveLength(1);
    expect(await sessionsStartedBy(automation.id)).toEqual([]);
    expect((await sessions()).length).toBe(before);
  });
});

describe("Sentry alerts", () => {
  async function deliver(automationId: string, resource: string, payload: unknown): Promise<{ status: number; ack: TriggerAck }> {
    const body = JSON.stringify(payload);
    const response = await fetch(`${stack.url}/api/triggers/sentry/${automationId}`, {
      method: "POST",
      headers: sentryHeaders(SENTRY_CLIENT_SECRET, body, resource),
      body,
    });
    return { status: response.status, ack: (await response.json()) as TriggerAck };
  }

  it("a signed issue alert starts one session and a second alert for the same issue joins it as a follow-up", async () => {
    const automation = await createAutomation("Triage Sentry issues", { kind: "sentry" }, "echo sentry alert triaged");
    const saved = await call("PUT", `/api/triggers/sentry/${automation.id}/settings`, { clientSecret: SENTRY_CLIENT_SECRET });
    expect(saved.status).toBe(200);

    const first = await deliver(automation.id, "issue", sentryIssuePayload("4711"));
    expect(first).toMatchObject({ status: 202, ack: { ok: true, duplicate: false } });
    const firstRun = await runOf(automation.id, (r) => r.sessionId !== null, BACKGROUND_TIMEOUT_MS, "the first alert's run");
    expect(firstRun).toMatchObject({ trigger: "sentry", followUp: false, dedupeKey: "sentry:issue:4711" });
    // The second alert arrives while the agent works on the first (a delivery during the instant
    // the first is still creating its session is a duplicate by design).
    await eventually(
      async () => ((await eventsOf(firstRun.sessionId!)).some((e) => e.payload.type === "prompt.started") ? true : undefined),
      SESSION_TIMEOUT_MS,
      "the first alert's prompt to start",
    );

    const second = await deliver(automation.id, "event_alert", sentryEventAlertPayload("4711"));
    expect(second).toMatchObject({ status: 202, ack: { ok: true, duplicate: false } });
    expect(second.ack.deliveryId).not.toBe(first.ack.deliveryId);
    const secondRun = await runOf(automation.id, (r) => r.id !== firstRun.id, BACKGROUND_TIMEOUT_MS, "the second alert's run");
    expect(secondRun).toMatchObject({ trigger: "sentry", followUp: true, sessionId: firstRun.sessionId, dedupeKey: "sentry:issue:4711" });

    await expectCompletedSession(await settled(firstRun), "sentry", "sentry alert triaged");
    expect(await settled(secondRun)).toMatchObject({ status: "succeeded", reason: null });
    const events = await eventsOf(firstRun.sessionId!);
    const prompts = promptsOf(events);
    expect(prompts).toHaveLength(2);
    for (const prompt of prompts) {
      expect(prompt.text).toContain("untrusted Sentry alert");
      expect(prompt.text).toContain("ReferenceError: blooopy is not defined");
      expect(finishedStatusOf(events, prompt.promptId)).toBe("completed");
    }
    expect(await sessionsStartedBy(automation.id)).toHaveLength(1);
  });
});
