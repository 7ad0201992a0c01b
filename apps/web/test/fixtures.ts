import type { Author, EventPayload, QueuedPrompt, SessionEvent, SessionState } from "@lookout/protocol";
import { eventKey } from "@lookout/protocol";
import type { SessionSummary } from "@lookout/protocol";

export const ADA: Author = { userId: "u_ada", name: "Ada Lovelace", email: "ada@example.com" };
export const GRACE: Author = { userId: "u_grace", name: "Grace Hopper" };

/** A stored event with the key the server would give its payload. */
export function ev(seq: number, payload: EventPayload, at = 1_700_000_000_000 + seq * 1000): SessionEvent {
  return { seq, at, key: eventKey(payload), payload };
}

export function text(promptId: string, messageId: string, body: string, role: "assistant" | "reasoning" = "assistant"): EventPayload {
  return { type: "message.text", promptId, messageId, text: body, role };
}

export function tool(
  promptId: string,
  callId: string,
  state: "pending" | "running" | "completed" | "error",
  extra: Partial<Extract<EventPayload, { type: "tool.call" }>> = {},
): EventPayload {
  return { type: "tool.call", promptId, callId, tool: "bash", input: { command: "ls" }, state, ...extra };
}

export function queued(promptId: string, body: string, author: Author = ADA): EventPayload {
  return { type: "prompt.queued", promptId, author, text: body, model: "scripted/demo" };
}

export const SESSION: SessionState = {
  id: "s_1",
  title: "Fix the flaky login test",
  repositoryId: "r_1",
  baseBranch: "main",
  branch: "lookout/fix-login",
  model: "scripted/demo",
  reasoningEffort: null,
  status: "running",
  archived: false,
  owner: ADA,
  parentSessionId: null,
  sandboxStatus: "running",
  costUsd: 0.0123,
  createdAt: 1_700_000_000_000,
  updatedAt: 1_700_000_100_000,
};

export function summary(overrides: Partial<SessionSummary> = {}): SessionSummary {
  return {
    id: "s_1",
    title: "Fix the flaky login test",
    repositoryId: "r_1",
    repositoryName: "acme/web",
    status: "running",
    archived: false,
    owner: ADA,
    model: "scripted/demo",
    costUsd: 0.0123,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_100_000,
    lastActivityAt: Date.now() - 60_000,
    ...overrides,
  };
}

export function pending(promptId: string, body: string, author: Author = GRACE): QueuedPrompt {
  return {
    promptId,
    requestId: null,
    author,
    text: body,
    model: "scripted/demo",
    reasoningEffort: null,
    status: "pending",
    createdAt: 1_700_000_000_000,
    startedAt: null,
    finishedAt: null,
  };
}
