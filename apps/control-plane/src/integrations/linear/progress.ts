import { type ProgressAction, progressActions, type SessionEvent, toolSubject } from "@lookout/protocol";
import { getAgentByName } from "agents";
import type { Env } from "../../env";
import { unwrap } from "../../session/rpc";
import type { ActivityContent } from "./client";

/** Events read per call while collecting a prompt's tool calls. */
const PAGE = 500;

const ACTION_VERBS: Record<string, string> = {
  bash: "Ran",
  edit: "Edited",
  multiedit: "Edited",
  patch: "Edited",
  write: "Wrote",
  read: "Read",
  grep: "Searched for",
  glob: "Listed",
  list: "Listed",
  webfetch: "Fetched",
};

/**
 * A prompt's tool steps as the session reports them while it runs (`progressActions`), rebuilt from
 * its event log: each call's latest state, in the order the calls started, calls still pending left
 * out (their input is not known yet).
 */
export async function toolStepsOf(env: Env, sessionId: string, promptId: string): Promise<ProgressAction[]> {
  const stub = await getAgentByName(env.SESSION, sessionId);
  const calls = new Map<string, { firstSeq: number; action: ProgressAction }>();
  let after = 0;
  for (;;) {
    const { events, latestSeq }: { events: SessionEvent[]; latestSeq: number } = await unwrap(stub.eventsAfter(after, PAGE));
    for (const { payload, seq, firstSeq } of events) {
      if (payload.type !== "tool.call" || payload.promptId !== promptId) continue;
      if (payload.state === "pending") continue;
      calls.set(payload.callId, {
        firstSeq: firstSeq ?? seq,
        action: { tool: payload.tool, subject: toolSubject(payload.title, payload.input) },
      });
    }
    const last = events.at(-1)?.seq ?? latestSeq;
    if (events.length < PAGE || last >= latestSeq) break;
    after = last;
  }
  return progressActions([...calls.values()].sort((a, b) => a.firstSeq - b.firstSeq).map((call) => call.action));
}

/**
 * A tool step as a Linear `action` activity: what was done and to what ("Ran" `pnpm test`,
 * "Edited" src/x.ts). It is posted when the step starts, so it names no result.
 */
export function actionActivity(action: ProgressAction): Extract<ActivityContent, { type: "action" }> {
  const verb = ACTION_VERBS[action.tool];
  if (!verb) return { type: "action", action: `Used ${action.tool}`, parameter: action.subject ?? "" };
  return { type: "action", action: verb, parameter: action.subject ?? action.tool };
}

/** The id key of a prompt's `index`th tool step: the same while it runs and after it settled, so each is posted once. */
export function actionKey(sessionId: string, promptId: string, index: number): string {
  return `${sessionId}:${promptId}:action:${index}`;
}
