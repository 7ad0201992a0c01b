import { env, runDurableObjectAlarm } from "cloudflare:test";
import type { Automation } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { AutomationStore } from "../src/db/automations";
import { TriggerRunStore } from "../src/db/trigger-runs";
import { reportOutcome } from "../src/triggers/report";
import { schedulerStub } from "../src/triggers/scheduler-object";
import { tick } from "../src/triggers/scheduler";
import { api, login } from "./helpers";
import { createAutomation, rows } from "./support/automations";

const HOUR = 60 * 60 * 1000;
// A schedule whose slots are far from the real clock, so the real alarm never fires one mid-test.
const YEARLY = { kind: "cron", expression: "0 9 1 1 *", timeZone: "UTC" } as const;
const HOURLY_UTC = { kind: "cron", expression: "0 * * * *", timeZone: "UTC" } as const;

async function stored(id: string): Promise<Automation> {
  const automation = await new AutomationStore(env.DB).get(id);
  if (!automation) throw new Error(`automation ${id} is gone`);
  return automation;
}

/** Puts a schedule's next slot at `at`, as if it had been computed then. */
async function dueAt(automation: Automation, at: number): Promise<void> {
  await env.DB.prepare("UPDATE automations SET next_run_at = ? WHERE id = ?").bind(at, automation.id).run();
}

async function runsOf(automationId: string) {
  return rows<{
    id: string;
    status: string;
    reason: string | null;
    scheduled_for: number | null;
    session_id: string | null;
    prompt_id: string | null;
  }>("SELECT * FROM trigger_runs WHERE automation_id = ? ORDER BY id", automationId);
}

/** Settles the prompt a run started, as the session reports it, and lets the scheduler deliver it. */
async function finishRun(
  run: { session_id: string | null; prompt_id: string | null },
  status: "completed" | "failed",
  automation: Automation,
  now: number,
) {
  await reportOutcome(env, {
    kind: "prompt.finished",
    sessionId: run.session_id!,
    origin: { kind: "automation", automationId: automation.id, runId: "run_x", trigger: "cron" },
    promptId: run.prompt_id!,
    status,
    error: status === "failed" ? "the agent crashed" : null,
    summary: null,
    at: now,
  });
  await tick(env, now);
  // The report also woke the scheduler's own alarm, which may have claimed it before this tick did:
  // wait until whichever of the two drained it has finished delivering.
  await settled(run.session_id!);
}

/** Waits (with a deadline) until no report of the session is still pending in the outbox. */
async function settled(sessionId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pending = await env.DB.prepare("SELECT COUNT(*) AS n FROM outbox_reports WHERE session_id = ? AND status = 'pending'")
      .bind(sessionId)
      .first<{ n: number }>();
    if (pending?.n === 0) return;
    if (Date.now() > deadline) throw new Error(`the outbox still holds ${pending?.n} pending reports of ${sessionId}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("the scheduler", () => {
  // Each test's schedules stop with it, so a later test's clock does not fire an earlier test's.
  afterEach(async () => {
    await env.DB.prepare("UPDATE automations SET enabled = 0, next_run_at = NULL").run();
  });

  it("fires a due schedule once at its slot, with a controlled clock, and moves to the next slot", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { trigger: HOURLY_UTC });
    const slot = Date.UTC(2030, 0, 1, 9);
    await dueAt(automation, slot);

    expect((await tick(env, slot - 1)).fired).toEqual([]);
    const first = await tick(env, slot);
    expect(first.fired).toEqual([expect.objectContaining({ status: "started" })]);
    expect((await stored(automation.id)).nextRunAt).toBe(slot + HOUR);
    // The same instant again, or a second sweep, fires nothing more.
    expect((await tick(env, slot)).fired).toEqual([]);
    const runs = await runsOf(automation.id);
    expect(runs).toEqual([expect.objectContaining({ status: "running", scheduled_for: slot })]);
    expect(runs[0]!.session_id).toMatch(/^ses_/);
  });

  it("records an overlapping slot as skipped while the previous run is still going", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { trigger: HOURLY_UTC });
    const slot = Date.UTC(2030, 1, 1, 9);
    await dueAt(automation, slot);
    await tick(env, slot);
    const overlapped = await tick(env, slot + HOUR);
    expect(overlapped.fired).toEqual([expect.objectContaining({ status: "skipped", reason: expect.stringContaining("overlap") })]);
    const runs = await runsOf(automation.id);
    expect(runs.map((r) => r.status)).toEqual(["running", "skipped"]);
    expect(runs[1]!.scheduled_for).toBe(slot + HOUR);
  });

  it("catches up once after downtime, not once per missed slot", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { trigger: HOURLY_UTC });
    const slot = Date.UTC(2030, 2, 1, 9);
    await dueAt(automation, slot);
    // Down for five and a half hours: five slots missed.
    const back = slot + 5 * HOUR + 30 * 60_000;
    const woke = await tick(env, back);
    expect(woke.fired).toHaveLength(1);
    expect((await stored(automation.id)).nextRunAt).toBe(slot + 6 * HOUR);
    expect((await tick(env, back + 1)).fired).toEqual([]);
    expect(await runsOf(automation.id)).toHaveLength(1);
  });

  it("pauses after three failed runs in a row, saying why, and resuming resets the count", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { trigger: HOURLY_UTC });
    let slot = Date.UTC(2030, 3, 1, 9);
    await dueAt(automation, slot);
    for (let failure = 1; failure <= 3; failure++) {
      await tick(env, slot);
      const runs = await runsOf(automation.id);
      await finishRun(runs[runs.length - 1]!, "failed", automation, slot + 60_000);
      expect((await stored(automation.id)).consecutiveFailures).toBe(failure);
      slot += HOUR;
    }
    const paused = await stored(automation.id);
    expect(paused).toMatchObject({ enabled: false, nextRunAt: null, pausedReason: expect.stringContaining("3 failed runs in a row") });
    expect(paused.pausedReason).toContain("the agent crashed");
    expect((await runsOf(automation.id)).map((r) => r.status)).toEqual(["failed", "failed", "failed"]);
    // Paused: its slot passes and nothing fires.
    expect((await tick(env, slot + 10 * HOUR)).fired.filter((f) => f.runId && f.status !== "skipped")).toEqual([]);
    expect(await runsOf(automation.id)).toHaveLength(3);

    const resumed = await api(cookie)("POST", `/api/automations/${automation.id}/resume`);
    expect(resumed.json.automation).toMatchObject({ enabled: true, consecutiveFailures: 0, pausedReason: null });
    expect(resumed.json.automation.nextRunAt).toBeGreaterThan(Date.now());
  });

  it("a success resets the failure count, and a run that never finishes fails as timed out and counts", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { trigger: YEARLY });
    const runs = new TriggerRunStore(env.DB);
    // Times on the real clock here: the run timeout is measured from when runs really started.
    const slot = Date.now() - 1_000;
    await dueAt(automation, slot);
    await tick(env, Date.now());
    const [first] = await runsOf(automation.id);
    await finishRun(first!, "failed", automation, Date.now());
    expect((await stored(automation.id)).consecutiveFailures).toBe(1);

    // Run now, then report success: the count goes back to zero.
    const ran = await api(cookie)("POST", `/api/automations/${automation.id}/run`);
    await finishRun(
      { session_id: ran.json.run.sessionId, prompt_id: (await runs.get(ran.json.run.id))!.promptId },
      "completed",
      automation,
      Date.now(),
    );
    expect((await runs.get(ran.json.run.id))?.status).toBe("succeeded");
    expect((await stored(automation.id)).consecutiveFailures).toBe(0);

    // A run still going long after the run timeout (120 minutes by default) fails as timed out.
    const timedOut = await api(cookie)("POST", `/api/automations/${automation.id}/run`);
    const startedAt = (await runs.get(timedOut.json.run.id))!.startedAt!;
    await tick(env, startedAt + 119 * 60_000);
    expect((await runs.get(timedOut.json.run.id))?.status).toBe("running");
    await tick(env, startedAt + 121 * 60_000);
    expect(await runs.get(timedOut.json.run.id)).toMatchObject({ status: "failed", reason: expect.stringContaining("timed out") });
    expect((await stored(automation.id)).consecutiveFailures).toBe(1);
  });

  it("fails a run that never got its session as could-not-start, and counts it", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { trigger: YEARLY });
    // A run left `starting` by a Worker that died between reserving it and creating the session.
    const createdAt = Date.now();
    await env.DB.prepare(
      "INSERT INTO trigger_runs (id, automation_id, delivery_id, trigger, status, created_at) VALUES ('run_stuck', ?, 'dlv_stuck', 'cron', 'starting', ?)",
    )
      .bind(automation.id, createdAt)
      .run();
    await tick(env, createdAt + 9 * 60_000);
    expect((await new TriggerRunStore(env.DB).get("run_stuck"))?.status).toBe("starting");
    await tick(env, createdAt + 11 * 60_000);
    expect(await new TriggerRunStore(env.DB).get("run_stuck")).toMatchObject({
      status: "failed",
      reason: expect.stringContaining("could not start"),
    });
    expect((await stored(automation.id)).consecutiveFailures).toBe(1);
  });

  it("fires for real from the Durable Object's alarm", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { trigger: YEARLY });
    // Its slot has just passed on the real clock; waking the scheduler sets the alarm for it.
    await dueAt(automation, Date.now() - 1_000);
    await schedulerStub(env).arm(Date.now());
    await runDurableObjectAlarm(schedulerStub(env));
    const deadline = Date.now() + 5_000;
    const settledOnce = async () => (await runsOf(automation.id)).some((run) => run.status !== "starting");
    while (!(await settledOnce()) && Date.now() < deadline) await scheduler.wait(20);
    expect(await runsOf(automation.id)).toEqual([expect.objectContaining({ status: "running" })]);
    expect((await stored(automation.id)).nextRunAt).toBeGreaterThan(Date.now());
  });
});
