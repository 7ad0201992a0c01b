import { env } from "cloudflare:test";
import type { SessionCommand } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { OutboxReportStore } from "../src/db/outbox-reports";
import { type RunRecord, TriggerRunStore } from "../src/db/trigger-runs";
import { api, login, openBridge, type Peer, sandboxRequestFor } from "./helpers";
import { createAutomation } from "./support/automations";

async function connectBridge(sessionId: string): Promise<Peer<SessionCommand>> {
  const request = await sandboxRequestFor(sessionId);
  const { peer } = await openBridge(sessionId, request.sandboxId, request.sandboxToken);
  if (!peer) throw new Error("bridge refused");
  await peer.waitFor((m) => m.type === "bridge.welcome");
  return peer;
}

/** Waits until the run leaves `running`: the session reported, the outbox delivered, the run settled. */
async function settledRun(runId: string): Promise<RunRecord> {
  const runs = new TriggerRunStore(env.DB);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const run = await runs.get(runId);
    if (run && run.status !== "running" && run.status !== "starting") return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} is still ${run?.status}`);
    await scheduler.wait(20);
  }
}

/** Runs the automation now and plays the sandbox through one prompt that ends with `status`. */
async function runThroughSandbox(cookie: string, automationId: string, status: "completed" | "failed"): Promise<RunRecord> {
  const ran = await api(cookie)("POST", `/api/automations/${automationId}/run`);
  expect(ran.json.status).toBe("started");
  const bridge = await connectBridge(ran.json.run.sessionId);
  bridge.send({ type: "bridge.event", bseq: 1, event: { type: "bridge.ready" } });
  const prompt = await bridge.waitFor((m): m is Extract<SessionCommand, { type: "command.prompt" }> => m.type === "command.prompt");
  bridge.send({
    type: "bridge.event",
    bseq: 2,
    event: { type: "prompt.finished", promptId: prompt.promptId, status, ...(status === "failed" ? { error: "tests failed" } : {}) },
  });
  const run = await settledRun(ran.json.run.id);
  bridge.close();
  return run;
}

describe("an automation run from start to report", () => {
  it("settles the run when the session's prompt completes, through the session's report and the outbox", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie);
    const run = await runThroughSandbox(cookie, automation.id, "completed");
    expect(run).toMatchObject({ status: "succeeded", reason: null, reportError: null });
    const report = await new OutboxReportStore(env.DB).get(`${run.sessionId}:${run.promptId}:prompt.finished`);
    expect(report).toMatchObject({ status: "delivered", attempts: 1 });
  });

  it("fails the run with the session's error and counts it toward auto-pause", async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie);
    const run = await runThroughSandbox(cookie, automation.id, "failed");
    expect(run).toMatchObject({ status: "failed", reason: "the session failed: tests failed" });
    expect((await api(cookie)("GET", `/api/automations/${automation.id}`)).json.automation.consecutiveFailures).toBe(1);
  });
});
