import { SELF, env } from "cloudflare:test";
import type { Automation, AutomationTrigger } from "@lookout/protocol";
import { ORIGIN, api } from "../helpers";

/** An automation of `kind` on a fresh repository, created through `POST /api/automations` by the signed-in admin. */
export async function createTriggerAutomation(
  cookie: string,
  kind: Extract<AutomationTrigger["kind"], "sentry" | "webhook">,
  fields: Record<string, unknown> = {},
): Promise<Automation> {
  const call = api(cookie);
  const suffix = crypto.randomUUID().slice(0, 8);
  const repo = await call("POST", "/api/repositories", {
    kind: "local",
    path: `/srv/repos/triggers-${suffix}`,
    name: `triggers-${suffix}`,
  });
  if (repo.status !== 201) throw new Error(`repository: ${repo.status} ${JSON.stringify(repo.json)}`);
  const created = await call("POST", "/api/automations", {
    name: `${kind} ${suffix}`,
    instructions: "Triage the alert below and fix its cause.",
    repositoryId: repo.json.repository.id,
    trigger: { kind },
    maxConcurrentRuns: 5,
    ...fields,
  });
  if (created.status !== 201) throw new Error(`automation: ${created.status} ${JSON.stringify(created.json)}`);
  return created.json.automation as Automation;
}

/** Pauses an automation through its route. */
export async function pauseAutomation(cookie: string, automationId: string): Promise<void> {
  const paused = await api(cookie)("POST", `/api/automations/${automationId}/pause`);
  if (paused.status !== 200) throw new Error(`pause: ${paused.status} ${JSON.stringify(paused.json)}`);
}

export interface DeliveryRow {
  status: string;
  reason: string | null;
  delivery_id: string;
  run_id: string | null;
}

export interface RunRow {
  id: string;
  status: string;
  reason: string | null;
  session_id: string | null;
  follow_up: number;
  dedupe_key: string | null;
}

/** What an automation's deliveries and runs left in D1, oldest first. */
export async function recorded(automationId: string): Promise<{ deliveries: DeliveryRow[]; runs: RunRow[] }> {
  const deliveries = await env.DB.prepare(
    "SELECT status, reason, delivery_id, run_id FROM trigger_deliveries WHERE automation_id = ? ORDER BY received_at, rowid",
  )
    .bind(automationId)
    .all<DeliveryRow>();
  const runs = await env.DB.prepare(
    "SELECT id, status, reason, session_id, follow_up, dedupe_key FROM trigger_runs WHERE automation_id = ? ORDER BY created_at, rowid",
  )
    .bind(automationId)
    .all<RunRow>();
  return { deliveries: deliveries.results, runs: runs.results };
}

/** Waits (polling D1, with a deadline) until `check` holds for what the automation recorded. */
export async function waitForRecord<T>(
  automationId: string,
  check: (state: { deliveries: DeliveryRow[]; runs: RunRow[] }) => T | undefined | false,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await recorded(automationId);
    const result = check(state);
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out; recorded: ${JSON.stringify(state)}`);
    await scheduler.wait(10);
  }
}

/** The text of every prompt a session queued, from its event log. */
export async function promptTexts(cookie: string, sessionId: string): Promise<string[]> {
  const { json } = await api(cookie)("GET", `/api/sessions/${sessionId}/events?after=0`);
  return (json.events as { payload: { type: string; text?: string } }[])
    .filter((event) => event.payload.type === "prompt.queued")
    .map((event) => event.payload.text ?? "");
}

/** A raw POST to a trigger endpoint. */
export async function post(
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
): Promise<{ status: number; json: any }> {
  const response = await SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}
