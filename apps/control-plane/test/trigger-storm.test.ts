import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { dispatchTrigger } from "../src/triggers/dispatch";
import type { TriggerEvent } from "../src/triggers/types";
import { gatewayState, login } from "./helpers";
import { createAutomation, rows, withLimits } from "./support/automations";

const STORM = 1_000;
/** A storm takes seconds of D1 work; this leaves room on a loaded machine. */
const STORM_TIMEOUT_MS = 120_000;

function delivery(i: number, dedupeKey: string | null = null): TriggerEvent {
  return {
    source: "webhook",
    deliveryId: `storm-${i}-${crypto.randomUUID()}`,
    dedupeKey,
    actor: null,
    repositoryHint: null,
    instructions: null,
    untrusted: [{ label: "webhook payload", content: `{"i": ${i}}` }],
  };
}

async function countBy(automationId: string, table: "trigger_deliveries" | "trigger_runs"): Promise<Record<string, number>> {
  const counted = await rows<{ status: string; n: number }>(
    `SELECT status, COUNT(*) AS n FROM ${table} WHERE automation_id = ? GROUP BY status`,
    automationId,
  );
  return Object.fromEntries(counted.map((row) => [row.status, row.n]));
}

/** Sandboxes the fake gateway was asked for, for these sessions. */
async function sandboxesFor(sessionIds: Set<string>): Promise<number> {
  return (await gatewayState()).created.filter((request) => sessionIds.has(request.sessionId)).length;
}

/** Waits until every session the storm started has asked for its sandbox, so none arrives after the count. */
async function settledSandboxRequests(sessionIds: Set<string>): Promise<number> {
  const deadline = Date.now() + 10_000;
  while ((await sandboxesFor(sessionIds)) < sessionIds.size && Date.now() < deadline) await scheduler.wait(20);
  return sandboxesFor(sessionIds);
}

describe("a storm of deliveries", () => {
  it("starts no more sessions than the hourly cap, and records every delivery", { timeout: STORM_TIMEOUT_MS }, async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { maxConcurrentRuns: 10 });
    const limited = withLimits({ maxNewSessionsPerHour: 4, maxRunningSandboxes: 100_000 });
    const results = await Promise.all(Array.from({ length: STORM }, (_, i) => dispatchTrigger(limited, automation, delivery(i))));

    const started = new Set(results.filter((r) => r.status === "started").map((r) => r.sessionId!));
    expect(started.size).toBe(4);
    expect(results.filter((r) => r.status === "skipped")).toHaveLength(STORM - 4);
    expect(results.find((r) => r.status === "skipped")?.reason).toMatch(
      /^cap: \d+ sessions started by triggers in the last hour \(at most 4\)$/,
    );
    expect(await countBy(automation.id, "trigger_deliveries")).toEqual({ started: 4, skipped: STORM - 4 });
    expect(await countBy(automation.id, "trigger_runs")).toEqual({ running: 4, skipped: STORM - 4 });
    expect(await settledSandboxRequests(started)).toBe(4);
  });

  it("holds one automation to its concurrent runs and everything to the running-sandbox cap", { timeout: STORM_TIMEOUT_MS }, async () => {
    const cookie = await login();
    const overlapping = await createAutomation(cookie, { maxConcurrentRuns: 3 });
    const roomy = withLimits({ maxNewSessionsPerHour: 100_000, maxRunningSandboxes: 100_000 });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => dispatchTrigger(roomy, overlapping, delivery(i))));
    expect(results.filter((r) => r.status === "started")).toHaveLength(3);
    expect(await countBy(overlapping.id, "trigger_deliveries")).toEqual({ started: 3, skipped: 297 });

    // Every session this file started is still starting (the fake gateway's sandboxes never connect):
    // with the cap at that many plus two, exactly two more start.
    const busy = (
      await rows<{ n: number }>("SELECT COUNT(*) AS n FROM sessions WHERE status IN ('starting', 'running') AND archived = 0")
    )[0]!.n;
    const wide = await createAutomation(cookie, { maxConcurrentRuns: 10 });
    const capped = withLimits({ maxNewSessionsPerHour: 100_000, maxRunningSandboxes: busy + 2 });
    const second = await Promise.all(Array.from({ length: 200 }, (_, i) => dispatchTrigger(capped, wide, delivery(STORM + i))));
    expect(second.filter((r) => r.status === "started")).toHaveLength(2);
    expect(second.find((r) => r.status === "skipped")?.reason).toMatch(/sandboxes starting or running \(at most \d+\)$/);
  });

  it("starts one session for a storm about one subject and triages the rest onto it", { timeout: STORM_TIMEOUT_MS }, async () => {
    const cookie = await login();
    const automation = await createAutomation(cookie, { maxConcurrentRuns: 10, triage: "duplicate" });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => dispatchTrigger(env, automation, delivery(i, "sentry:acme:storm"))),
    );
    expect(results.filter((r) => r.status === "started")).toHaveLength(1);
    expect(results.filter((r) => r.status === "duplicate")).toHaveLength(199);
  });
});
