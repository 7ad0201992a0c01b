import type { SessionEvent } from "@lookout/protocol";
import { getAgentByName } from "agents";
import type { Env } from "../../env";
import { unwrap } from "../../session/rpc";
import type { ActivityContent } from "./client";

/** Events read per call while collecting a prompt's tool calls. */
const PAGE = 500;
/** Most `action` activities one prompt's report posts: one per tool, the busiest first. */
export const MAX_ACTIONS = 6;
/** Titles quoted per tool in an action's parameter. */
const TITLES_PER_ACTION = 3;

interface ToolCall {
  tool: string;
  title: string | null;
  failed: boolean;
}

/** The tool calls one prompt made, read from the session's event log (each call's latest state). */
export async function toolCallsOf(env: Env, sessionId: string, promptId: string): Promise<ToolCall[]> {
  const stub = await getAgentByName(env.SESSION, sessionId);
  const calls = new Map<string, ToolCall>();
  let after = 0;
  for (;;) {
    const { events, latestSeq }: { events: SessionEvent[]; latestSeq: number } = await unwrap(stub.eventsAfter(after, PAGE));
    for (const { payload } of events) {
      if (payload.type !== "tool.call" || payload.promptId !== promptId) continue;
      calls.set(payload.callId, { tool: payload.tool, title: payload.title ?? null, failed: payload.state === "error" });
    }
    const last = events.at(-1)?.seq ?? latestSeq;
    if (events.length < PAGE || last >= latestSeq) break;
    after = last;
  }
  return [...calls.values()];
}

/**
 * Summarises tool calls as Linear `action` activities: one per tool (not one per call), busiest
 * first, each naming how many calls it made, a few of their titles, and how many failed.
 */
export function summariseActions(calls: ToolCall[]): Extract<ActivityContent, { type: "action" }>[] {
  const byTool = new Map<string, ToolCall[]>();
  for (const call of calls) byTool.set(call.tool, [...(byTool.get(call.tool) ?? []), call]);
  return [...byTool.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .slice(0, MAX_ACTIONS)
    .map(([tool, group]) => {
      const titles = [...new Set(group.map((call) => call.title).filter((title): title is string => !!title))];
      const shown = titles.slice(0, TITLES_PER_ACTION).join(", ");
      const more = titles.length > TITLES_PER_ACTION ? ` and ${titles.length - TITLES_PER_ACTION} more` : "";
      const failed = group.filter((call) => call.failed).length;
      return {
        type: "action" as const,
        action: `Used ${tool}`,
        parameter: `${group.length} call${group.length === 1 ? "" : "s"}${shown ? `: ${shown}${more}` : ""}`,
        result: failed === 0 ? "all succeeded" : `${failed} failed`,
      };
    });
}
