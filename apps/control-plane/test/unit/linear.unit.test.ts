import { describe, expect, it, vi } from "vitest";

// `progress.ts` reaches the session object through the Agents SDK; summarising never calls it.
vi.mock("agents", () => ({ getAgentByName: () => Promise.reject(new Error("no Durable Objects here")) }));
// `agent.ts` creates sessions through a module that wakes the scheduler object (`cloudflare:workers`, workerd only).
vi.mock("../../src/triggers/scheduler-object", () => ({ wakeScheduler: () => Promise.reject(new Error("no Durable Objects here")) }));

const { actionActivity, actionKey } = await import("../../src/integrations/linear/progress");
const { progressActions, MAX_PROGRESS_ACTIONS } = await import("@lookout/protocol");
const { activityId } = await import("../../src/integrations/linear/client");
const { instructionsFor } = await import("../../src/integrations/linear/agent");

describe("Linear actions", () => {
  it("lists tool steps in the order they started, consecutive calls of one tool as the first of them", () => {
    const calls = [
      { tool: "read", subject: "a.ts" },
      { tool: "bash", subject: "npm test" },
      { tool: "bash", subject: "ls" },
      { tool: "edit", subject: "src/a.ts" },
      { tool: "bash", subject: "npm test" },
      { tool: "lookout_open_pull_request", subject: null },
    ];
    expect(progressActions(calls).map(actionActivity)).toEqual([
      { type: "action", action: "Read", parameter: "a.ts" },
      { type: "action", action: "Ran", parameter: "npm test" },
      { type: "action", action: "Edited", parameter: "src/a.ts" },
      { type: "action", action: "Ran", parameter: "npm test" },
      { type: "action", action: "Used lookout_open_pull_request", parameter: "" },
    ]);
    // A prefix of the calls gives a prefix of the steps: a step posted while the prompt ran keeps its place.
    expect(progressActions(calls.slice(0, 3))).toEqual(progressActions(calls).slice(0, 2));
  });

  it("lists at most MAX_PROGRESS_ACTIONS steps however many tools ran, each under a key of its own", () => {
    const calls = Array.from({ length: 30 }, (_, i) => ({ tool: `tool-${i}`, subject: null }));
    expect(progressActions(calls)).toHaveLength(MAX_PROGRESS_ACTIONS);
    expect(progressActions([])).toEqual([]);
    expect(actionKey("ses_1", "prm_1", 3)).not.toBe(actionKey("ses_1", "prm_1", 4));
  });
});

describe("Linear activity ids", () => {
  it("are UUIDs derived from the key: the same key always, another key never", async () => {
    const first = await activityId("ses_1:prm_1:prompt.finished:final");
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await activityId("ses_1:prm_1:prompt.finished:final")).toBe(first);
    expect(await activityId("ses_1:prm_2:prompt.finished:final")).not.toBe(first);
  });
});

describe("the first prompt's instructions", () => {
  it("ask for the issue identifier in the pull request's title, body and branch so Linear links it", () => {
    const text = instructionsFor("ENG-42");
    expect(text).toContain('"ENG-42: "');
    expect(text).toContain("Fixes ENG-42");
    expect(text).toContain("eng-42");
  });
});
