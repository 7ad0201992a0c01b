import type { Automation } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import {
  automationStatus,
  canChangeAutomation,
  draftFrom,
  emptyDraft,
  patchFrom,
  requestFromDraft,
  timeZoneOptions,
  triggerSummary,
  type AutomationDraft,
} from "./automations";

const AUTOMATION: Automation = {
  id: "aut_1",
  name: "Nightly",
  instructions: "Update dependencies.",
  repositoryId: "r_1",
  baseBranch: null,
  model: null,
  reasoningEffort: null,
  trigger: { kind: "cron", expression: "0 9 * * 1-5", timeZone: "Europe/Berlin" },
  triage: "follow-up",
  maxConcurrentRuns: 1,
  enabled: true,
  pausedReason: null,
  consecutiveFailures: 0,
  nextRunAt: 1,
  ownerId: "u_ada",
  ownerName: "Ada",
  createdAt: 1,
  updatedAt: 1,
};

function draft(overrides: Partial<AutomationDraft> = {}): AutomationDraft {
  return { ...emptyDraft("UTC", "r_1"), name: "Nightly", instructions: "Update dependencies.", ...overrides };
}

describe("automation drafts", () => {
  it("turn into the create request the protocol accepts, empty optional fields as null", () => {
    const result = requestFromDraft(draft({ cronExpression: " 30 2 * * * ", timeZone: "Europe/Berlin", maxConcurrentRuns: "3" }));
    expect(result).toEqual({
      ok: true,
      request: {
        name: "Nightly",
        instructions: "Update dependencies.",
        repositoryId: "r_1",
        baseBranch: null,
        model: null,
        reasoningEffort: null,
        trigger: { kind: "cron", expression: "30 2 * * *", timeZone: "Europe/Berlin" },
        triage: "follow-up",
        maxConcurrentRuns: 3,
        enabled: true,
      },
    });
  });

  it("a webhook, Sentry or manual trigger carries no schedule", () => {
    for (const kind of ["webhook", "sentry", "manual"] as const) {
      const result = requestFromDraft(draft({ triggerKind: kind, cronExpression: "not cron" }));
      expect(result.ok && result.request.trigger).toEqual({ kind });
    }
  });

  it("reports each bad field under the form's own field name", () => {
    const result = requestFromDraft(draft({ name: " ", repositoryId: "", cronExpression: "0 9 * *", maxConcurrentRuns: "two" }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(Object.keys(result.errors).sort()).toEqual(["cronExpression", "maxConcurrentRuns", "name", "repositoryId"]);
    expect(result.errors.cronExpression).toMatch(/five fields/);
    expect(result.errors.repositoryId).toBe("Choose a repository.");
  });

  it("an edit sends only what changed", () => {
    const edited = requestFromDraft({ ...draftFrom(AUTOMATION, "UTC"), name: "Nightly run", model: "scripted/demo" });
    expect(edited.ok).toBe(true);
    if (!edited.ok) return;
    expect(patchFrom(AUTOMATION, edited.request)).toEqual({ name: "Nightly run", model: "scripted/demo" });

    const unchanged = requestFromDraft(draftFrom(AUTOMATION, "UTC"));
    expect(unchanged.ok && patchFrom(AUTOMATION, unchanged.request)).toEqual({});

    const rescheduled = requestFromDraft({ ...draftFrom(AUTOMATION, "UTC"), timeZone: "UTC" });
    expect(rescheduled.ok && patchFrom(AUTOMATION, rescheduled.request)).toEqual({
      trigger: { kind: "cron", expression: "0 9 * * 1-5", timeZone: "UTC" },
    });
  });

  it("an automation without a schedule edits with the fallback time zone", () => {
    const webhook = draftFrom({ ...AUTOMATION, trigger: { kind: "webhook" } }, "Asia/Tokyo");
    expect(webhook).toMatchObject({ triggerKind: "webhook", timeZone: "Asia/Tokyo" });
  });
});

describe("automation facts", () => {
  it("says whether it runs, and why not", () => {
    expect(automationStatus(AUTOMATION)).toEqual({ label: "Active", tone: "green", reason: null });
    const paused = { ...AUTOMATION, enabled: false, pausedReason: "Paused after 3 failed runs in a row" };
    expect(automationStatus(paused)).toEqual({ label: "Paused", tone: "amber", reason: "Paused after 3 failed runs in a row" });
  });

  it("describes the trigger", () => {
    expect(triggerSummary(AUTOMATION.trigger)).toBe("Schedule · 0 9 * * 1-5 (Europe/Berlin)");
    expect(triggerSummary({ kind: "sentry" })).toBe("Sentry");
  });

  it("lets only its owner or an admin change it", () => {
    expect(canChangeAutomation(AUTOMATION, { userId: "u_ada", admin: false })).toBe(true);
    expect(canChangeAutomation(AUTOMATION, { userId: "u_grace", admin: true })).toBe(true);
    expect(canChangeAutomation(AUTOMATION, { userId: "u_grace", admin: false })).toBe(false);
  });

  it("offers UTC first and always the current zone", () => {
    const zones = timeZoneOptions("Mars/Olympus_Mons");
    expect(zones[0]).toBe("UTC");
    expect(zones).toContain("Mars/Olympus_Mons");
    expect(zones).toContain("Europe/Berlin");
    expect(new Set(zones).size).toBe(zones.length);
  });
});
