import { env, runDurableObjectAlarm } from "cloudflare:test";
import type { SessionOutcome } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { OutboxReportStore } from "../src/db/outbox-reports";
import { SessionIndexStore } from "../src/db/sessions-index";
import { TriggerRunStore } from "../src/db/trigger-runs";
import {
  enqueueOutcome,
  idempotencyKeyOf,
  OUTBOX_DEFAULTS,
  OutboxDrainer,
  type ReportSink,
  type ReportSinks,
} from "../src/triggers/outbox";
import { reportOutcome } from "../src/triggers/report";
import { schedulerStub } from "../src/triggers/scheduler-object";
import { api, login } from "./helpers";
import { createAutomation } from "./support/automations";

/**
 * A receiver that, like a chat platform, keeps what it was sent by idempotency key, and can be
 * told to be down for the next few attempts.
 */
class Receiver {
  readonly received = new Map<string, number>();
  attempts = 0;
  constructor(private downFor: number) {}

  readonly sink: ReportSink = {
    deliver: async (_env, _report, key) => {
      this.attempts += 1;
      if (this.downFor > 0) {
        this.downFor -= 1;
        throw new Error("503 from the platform");
      }
      this.received.set(key, (this.received.get(key) ?? 0) + 1);
    },
  };
}

let counter = 0;
function outcome(fields: Partial<Extract<SessionOutcome, { kind: "prompt.finished" }>> = {}): SessionOutcome {
  counter += 1;
  return {
    kind: "prompt.finished",
    sessionId: `ses_outbox${counter}`,
    origin: { kind: "slack", teamId: "T1", channelId: "C1", threadTs: `17000.${counter}` },
    promptId: `prm_${counter}`,
    status: "completed",
    error: null,
    summary: "Done.",
    at: 1_700_000_000_000,
    ...fields,
  };
}

const noJitter = { ...OUTBOX_DEFAULTS, policy: { ...OUTBOX_DEFAULTS.policy, jitter: "none" as const } };

describe("the report outbox", () => {
  it("delivers a report exactly once across a restart: a failed attempt, a new drainer, one success", async () => {
    const receiver = new Receiver(1);
    const sinks: ReportSinks = { slack: receiver.sink };
    const report = outcome();
    const key = idempotencyKeyOf(report);
    const now = 1_800_000_000_000;
    expect(await enqueueOutcome(env.DB, report, now, sinks)).toBe(true);
    // The session reporting the same thing again changes nothing.
    expect(await enqueueOutcome(env.DB, report, now + 1, sinks)).toBe(false);

    const before = new OutboxDrainer(env, sinks, noJitter);
    expect(await before.drain(now)).toEqual({ delivered: 0, retried: 1, failed: 0 });
    const stored = await new OutboxReportStore(env.DB).get(key);
    expect(stored).toMatchObject({ status: "pending", attempts: 1, nextAttemptAt: now + 5_000, lastError: "503 from the platform" });
    // Not due yet: nothing is sent early.
    expect(await before.drain(now + 4_999)).toEqual({ delivered: 0, retried: 0, failed: 0 });

    // The Worker restarts: the old drainer is gone, a new one finds the report in D1.
    const after = new OutboxDrainer(env, sinks, noJitter);
    expect(await after.drain(now + 5_000)).toEqual({ delivered: 1, retried: 0, failed: 0 });
    expect(await after.drain(now + 60 * 60_000)).toEqual({ delivered: 0, retried: 0, failed: 0 });
    expect(await new OutboxDrainer(env, sinks, noJitter).drain(now + 2 * 60 * 60_000)).toEqual({ delivered: 0, retried: 0, failed: 0 });
    expect(receiver.received).toEqual(new Map([[key, 1]]));
    expect(receiver.attempts).toBe(2);
    expect(await new OutboxReportStore(env.DB).get(key)).toMatchObject({ status: "delivered", deliveredAt: now + 5_000, attempts: 2 });
  });

  it("never lets two drainers send one report at once, and retries a crashed drainer's report after its lease", async () => {
    const receiver = new Receiver(0);
    const sinks: ReportSinks = { slack: receiver.sink };
    const report = outcome();
    const key = idempotencyKeyOf(report);
    const now = 1_810_000_000_000;
    await enqueueOutcome(env.DB, report, now, sinks);
    // A drainer claimed it and died before sending.
    expect(await new OutboxReportStore(env.DB).claim(key, now, now + OUTBOX_DEFAULTS.leaseMs)).not.toBeNull();
    expect(await new OutboxDrainer(env, sinks, noJitter).drain(now + 1_000)).toEqual({ delivered: 0, retried: 0, failed: 0 });
    expect(await new OutboxDrainer(env, sinks, noJitter).drain(now + OUTBOX_DEFAULTS.leaseMs)).toEqual({
      delivered: 1,
      retried: 0,
      failed: 0,
    });
    expect(receiver.received).toEqual(new Map([[key, 1]]));
  });

  it("backs off exponentially and, after the last attempt, marks the report and the session failed", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie);
    const ran = await api(cookie)("POST", `/api/automations/${automation.id}/run`);
    const run = (await new TriggerRunStore(env.DB).get(ran.json.run.id))!;
    const down: ReportSinks = {
      automation: {
        deliver: () => Promise.reject(new Error("unreachable")),
        gaveUp: async (_env, report, error) => {
          if (report.outcome.kind === "prompt.finished") await new TriggerRunStore(env.DB).setReportError(run.id, error);
        },
      },
    };
    const report = outcome({
      sessionId: run.sessionId!,
      promptId: run.promptId!,
      origin: { kind: "automation", automationId: automation.id, runId: run.id, trigger: "manual" },
    });
    const key = idempotencyKeyOf(report);
    const options = { ...noJitter, maxAttempts: 4 };
    let now = 1_820_000_000_000;
    await enqueueOutcome(env.DB, report, now, down);
    const delays: number[] = [];
    for (let attempt = 1; attempt < 4; attempt++) {
      await new OutboxDrainer(env, down, options).drain(now);
      const next = (await new OutboxReportStore(env.DB).get(key))!.nextAttemptAt;
      delays.push(next - now);
      now = next;
    }
    expect(delays).toEqual([5_000, 10_000, 20_000]);
    expect(await new OutboxDrainer(env, down, options).drain(now)).toEqual({ delivered: 0, retried: 0, failed: 1 });
    expect(await new OutboxReportStore(env.DB).get(key)).toMatchObject({
      status: "failed",
      attempts: 4,
      lastError: expect.stringContaining("unreachable"),
    });
    expect((await new SessionIndexStore(env.DB).get(run.sessionId!))?.reportError).toContain("gave up after 4 attempts");
    expect((await new TriggerRunStore(env.DB).get(run.id))?.reportError).toContain("gave up after 4 attempts");
    // Failed for good: later drains leave it alone.
    expect(await new OutboxDrainer(env, down, options).drain(now + 24 * 60 * 60_000)).toEqual({ delivered: 0, retried: 0, failed: 0 });
  });

  it("reports an automation run's outcome through the scheduler's alarm, and nothing for dashboard sessions", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie);
    const ran = await api(cookie)("POST", `/api/automations/${automation.id}/run`);
    const run = (await new TriggerRunStore(env.DB).get(ran.json.run.id))!;
    const finished = outcome({
      sessionId: run.sessionId!,
      promptId: run.promptId!,
      origin: { kind: "automation", automationId: automation.id, runId: run.id, trigger: "manual" },
    });
    await reportOutcome(env, finished);
    await reportOutcome(env, finished);
    await runDurableObjectAlarm(schedulerStub(env));
    const deadline = Date.now() + 5_000;
    while ((await new TriggerRunStore(env.DB).get(run.id))?.status === "running" && Date.now() < deadline) await scheduler.wait(20);
    expect(await new TriggerRunStore(env.DB).get(run.id)).toMatchObject({ status: "succeeded", reason: null });
    expect(await new OutboxReportStore(env.DB).get(idempotencyKeyOf(finished))).toMatchObject({ status: "delivered", attempts: 1 });

    const fromDashboard = outcome({ origin: { kind: "dashboard" } });
    await reportOutcome(env, fromDashboard);
    expect(await new OutboxReportStore(env.DB).get(idempotencyKeyOf(fromDashboard))).toBeNull();
  });
});
