import { describe, expect, it, vi } from "vitest";

// `progress.ts` reaches the session object through the Agents SDK; summarising never calls it.
vi.mock("agents", () => ({ getAgentByName: () => Promise.reject(new Error("no Durable Objects here")) }));

const { summariseActions, MAX_ACTIONS } = await import("../../src/integrations/linear/progress");
const { activityId } = await import("../../src/integrations/linear/client");
const { instructionsFor } = await import("../../src/integrations/linear/agent");

describe("Linear actions", () => {
  it("summarises tool calls per tool, busiest first, with a few titles and the failures", () => {
    const calls = [
      { tool: "read", title: "a.ts", failed: false },
      { tool: "bash", title: "npm test", failed: true },
      { tool: "bash", title: "npm test", failed: false },
      { tool: "bash", title: "ls", failed: false },
      { tool: "bash", title: "git diff", failed: false },
      { tool: "bash", title: "pwd", failed: false },
      { tool: "edit", title: null, failed: false },
    ];
    expect(summariseActions(calls)).toEqual([
      { type: "action", action: "Used bash", parameter: "5 calls: npm test, ls, git diff and 1 more", result: "1 failed" },
      { type: "action", action: "Used read", parameter: "1 call: a.ts", result: "all succeeded" },
      { type: "action", action: "Used edit", parameter: "1 call", result: "all succeeded" },
    ]);
  });

  it("posts at most a handful of actions however many tools ran", () => {
    const calls = Array.from({ length: 20 }, (_, i) => ({ tool: `tool-${i}`, title: null, failed: false }));
    expect(summariseActions(calls)).toHaveLength(MAX_ACTIONS);
    expect(summariseActions([])).toEqual([]);
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
