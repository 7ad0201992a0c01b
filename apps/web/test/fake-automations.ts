import {
  CreateAutomationRequest,
  PutSentrySettingsRequest,
  PutWebhookSettingsRequest,
  UpdateAutomationRequest,
  type Automation,
  type AutomationRun,
  type ConditionResult,
  type SentrySettingsView,
  type WebhookCondition,
  type WebhookSettingsView,
} from "@lookout/protocol";
import type { FakeApiState, FakeResponse } from "./fake-api";

/** The automations part of the fake control plane: `/api/automations` and `/api/triggers/*`. */
export interface FakeAutomationsState {
  automations: Automation[];
  /** Runs per automation, newest first. */
  runs: Map<string, AutomationRun[]>;
  webhookSettings: Map<string, WebhookSettingsView>;
  sentrySettings: Map<string, SentrySettingsView>;
  /** Keys issued per webhook automation, newest last (the real server keeps only a hash). */
  issuedKeys: Map<string, string[]>;
}

export function fakeAutomations(overrides: Partial<FakeAutomationsState> = {}): FakeAutomationsState {
  return { automations: [], runs: new Map(), webhookSettings: new Map(), sentrySettings: new Map(), issuedKeys: new Map(), ...overrides };
}

const ORIGIN = "http://lookout.test";
/** The fake's "now" for schedules: fixed, so previews are the same in every run. */
export const FAKE_SCHEDULE_BASE_MS = Date.UTC(2030, 0, 7, 9, 0, 0);
const HOUR_MS = 3_600_000;

const error = (status: number, code: string, message: string): FakeResponse => ({ status, body: { error: { code, message } } });

export function automationFixture(overrides: Partial<Automation> = {}): Automation {
  return {
    id: "aut_1",
    name: "Nightly dependency check",
    instructions: "Update outdated dependencies and run the tests.",
    repositoryId: "r_1",
    baseBranch: null,
    model: null,
    reasoningEffort: null,
    trigger: { kind: "cron", expression: "0 9 * * 1-5", timeZone: "UTC" },
    triage: "follow-up",
    maxConcurrentRuns: 1,
    enabled: true,
    pausedReason: null,
    consecutiveFailures: 0,
    nextRunAt: FAKE_SCHEDULE_BASE_MS,
    ownerId: "u_ada",
    ownerName: "Ada Lovelace",
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

export function runFixture(overrides: Partial<AutomationRun> = {}): AutomationRun {
  return {
    id: "run_1",
    automationId: "aut_1",
    trigger: "cron",
    status: "succeeded",
    reason: null,
    sessionId: null,
    followUp: false,
    dedupeKey: null,
    scheduledFor: null,
    reportError: null,
    createdAt: Date.now() - 120_000,
    finishedAt: Date.now() - 60_000,
    ...overrides,
  };
}

/** Answers `/api/automations…` and `/api/triggers/…`, or null for any other path. */
export function handleAutomations(state: FakeApiState, method: string, url: URL, body: unknown): FakeResponse | null {
  const path = url.pathname;
  const store = state.automations;
  if (path === "/api/automations/cron-preview" && method === "GET") return cronPreview(url);
  if (path === "/api/automations") {
    if (method === "GET") return { status: 200, body: { automations: store.automations } };
    if (method === "POST") {
      const parsed = CreateAutomationRequest.safeParse(body);
      if (!parsed.success) return error(422, "VALIDATION_FAILED", parsed.error.issues[0]?.message ?? "Some fields are invalid.");
      const now = Date.now();
      const { enabled, ...fields } = parsed.data;
      const automation: Automation = {
        id: `aut_${state.nextId++}`,
        ...fields,
        enabled,
        pausedReason: enabled ? null : `Created paused by ${state.me.user.name}`,
        consecutiveFailures: 0,
        nextRunAt: enabled && fields.trigger.kind === "cron" ? FAKE_SCHEDULE_BASE_MS : null,
        ownerId: state.me.user.userId,
        ownerName: state.me.user.name,
        createdAt: now,
        updatedAt: now,
      };
      store.automations.push(automation);
      return { status: 201, body: { automation } };
    }
  }
  const match = /^\/api\/automations\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
  if (match) return handleAutomation(state, method, match[1] ?? "", match[2], url, body);
  const trigger = /^\/api\/triggers\/(webhooks|sentry)\/([^/]+)\/(settings|key|test)$/.exec(path);
  if (trigger)
    return handleTrigger(state, method, trigger[1] === "sentry" ? "sentry" : "webhook", trigger[2] ?? "", trigger[3] ?? "", body);
  return null;
}

function handleAutomation(
  state: FakeApiState,
  method: string,
  id: string,
  action: string | undefined,
  url: URL,
  body: unknown,
): FakeResponse {
  const store = state.automations;
  const index = store.automations.findIndex((automation) => automation.id === id);
  const current = store.automations[index];
  if (!current) return error(404, "AUTOMATION_NOT_FOUND", `No automation has the id "${id}".`);
  const save = (automation: Automation) => {
    store.automations[index] = automation;
    return { status: 200, body: { automation } };
  };
  if (!action && method === "GET") return { status: 200, body: { automation: current } };
  if (!action && method === "PATCH") {
    const parsed = UpdateAutomationRequest.safeParse(body);
    if (!parsed.success) return error(422, "VALIDATION_FAILED", parsed.error.issues[0]?.message ?? "Some fields are invalid.");
    return save({ ...current, ...parsed.data, updatedAt: Date.now() });
  }
  if (!action && method === "DELETE") {
    store.automations.splice(index, 1);
    return { status: 204 };
  }
  if (action === "pause" && method === "POST") {
    return save({ ...current, enabled: false, pausedReason: `Paused by ${state.me.user.name}`, nextRunAt: null });
  }
  if (action === "resume" && method === "POST") {
    const nextRunAt = current.trigger.kind === "cron" ? FAKE_SCHEDULE_BASE_MS : null;
    return save({ ...current, enabled: true, pausedReason: null, consecutiveFailures: 0, nextRunAt });
  }
  if (action === "run" && method === "POST") {
    if (!current.enabled) return error(409, "AUTOMATION_PAUSED", `"${current.name}" is paused; resume it before running it.`);
    const run = runFixture({
      id: `run_${state.nextId++}`,
      automationId: id,
      trigger: "manual",
      status: "starting",
      sessionId: `s_${state.nextId++}`,
      createdAt: Date.now(),
      finishedAt: null,
    });
    store.runs.set(id, [run, ...(store.runs.get(id) ?? [])]);
    return { status: 201, body: { status: "started", reason: null, run } };
  }
  if (action === "runs" && method === "GET") {
    const runs = store.runs.get(id) ?? [];
    const before = url.searchParams.get("before");
    const limit = Number(url.searchParams.get("limit") ?? 25);
    const start = before ? runs.findIndex((run) => run.id === before) + 1 : 0;
    const page = runs.slice(start, start + limit);
    const last = page.at(-1);
    return { status: 200, body: { runs: page, nextBefore: start + limit < runs.length && last ? last.id : null } };
  }
  return error(404, "NOT_FOUND", "Nothing exists at this address.");
}

function handleTrigger(
  state: FakeApiState,
  method: string,
  kind: "webhook" | "sentry",
  id: string,
  action: string,
  body: unknown,
): FakeResponse {
  const store = state.automations;
  const automation = store.automations.find((candidate) => candidate.id === id);
  if (!automation || automation.trigger.kind !== kind) return error(404, "AUTOMATION_NOT_FOUND", `No ${kind} automation has this id.`);
  const url = `${ORIGIN}/api/triggers/${kind === "sentry" ? "sentry" : "webhooks"}/${id}`;
  if (kind === "sentry") {
    const current = store.sentrySettings.get(id) ?? {
      automationId: id,
      url,
      clientSecretSet: false,
      conditions: { resources: [], projects: [], environments: [], levels: [] },
      updatedAt: automation.updatedAt,
    };
    if (action === "settings" && method === "GET") return { status: 200, body: { settings: current } };
    if (action === "settings" && method === "PUT") {
      const parsed = PutSentrySettingsRequest.safeParse(body);
      if (!parsed.success) return error(422, "VALIDATION_FAILED", parsed.error.issues[0]?.message ?? "Some fields are invalid.");
      const settings: SentrySettingsView = { ...current, clientSecretSet: true, conditions: parsed.data.conditions, updatedAt: Date.now() };
      store.sentrySettings.set(id, settings);
      return { status: 200, body: { settings } };
    }
    return error(404, "NOT_FOUND", "Nothing exists at this address.");
  }
  const current = store.webhookSettings.get(id) ?? {
    automationId: id,
    url,
    keySet: false,
    keyCreatedAt: null,
    conditions: [],
    idempotency: null,
    template: null,
    updatedAt: automation.updatedAt,
  };
  if (action === "settings" && method === "GET") return { status: 200, body: { settings: current } };
  if (action === "settings" && method === "PUT") {
    const parsed = PutWebhookSettingsRequest.safeParse(body);
    if (!parsed.success) return error(422, "VALIDATION_FAILED", parsed.error.issues[0]?.message ?? "Some fields are invalid.");
    const settings: WebhookSettingsView = { ...current, ...parsed.data, updatedAt: Date.now() };
    store.webhookSettings.set(id, settings);
    return { status: 200, body: { settings } };
  }
  if (action === "key" && method === "POST") {
    const key = `whk_${state.nextId++}_${"k".repeat(40)}`;
    store.issuedKeys.set(id, [...(store.issuedKeys.get(id) ?? []), key]);
    const createdAt = Date.now();
    store.webhookSettings.set(id, { ...current, keySet: true, keyCreatedAt: createdAt });
    return { status: 201, body: { key, url, header: "X-Lookout-Webhook-Key", createdAt } };
  }
  if (action === "test" && method === "POST") {
    const payload = typeof body === "object" && body !== null && "payload" in body ? body.payload : undefined;
    const results = current.conditions.map((condition) => evaluate(condition, payload));
    return {
      status: 200,
      body: {
        matched: results.every((result) => result.matched),
        conditions: results,
        idempotencyKey: null,
        rendered: JSON.stringify(payload, null, 2),
      },
    };
  }
  return error(404, "NOT_FOUND", "Nothing exists at this address.");
}

/** Refuses what the real server refuses for the fixtures the tests use: not five fields, or every minute. */
function cronPreview(url: URL): FakeResponse {
  const expression = url.searchParams.get("expression") ?? "";
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return error(422, "INVALID_CRON", `"${expression}" has ${fields.length} field(s); write five.`);
  if (fields[0] === "*")
    return error(422, "CRON_TOO_FREQUENT", `"${expression}" fires 1 minute(s) apart at its closest; the minimum interval is 15 minutes.`);
  const nextRuns = [0, 1, 2].map((step) => FAKE_SCHEDULE_BASE_MS + step * 24 * HOUR_MS);
  return { status: 200, body: { nextRuns, nextRunsLocal: nextRuns.map((at) => new Date(at).toISOString()) } };
}

/** Dot-and-index paths only (`$.a.b[0]`): enough for the component tests; the server uses jsonpath-plus. */
function evaluate(condition: WebhookCondition, payload: unknown): ConditionResult {
  let selected: unknown = payload;
  for (const step of condition.path
    .replace(/^\$\.?/, "")
    .split(/\.|\[(\d+)\]/)
    .filter(Boolean)) {
    selected = typeof selected === "object" && selected !== null ? (selected as Record<string, unknown>)[step] : undefined;
  }
  const values = selected === undefined ? [] : [selected];
  const matched =
    condition.op === "exists"
      ? values.length > 0
      : condition.op === "absent"
        ? values.length === 0
        : condition.op === "equals"
          ? values.some((value) => value === condition.value)
          : condition.op === "not_equals"
            ? !values.some((value) => value === condition.value)
            : condition.op === "one_of"
              ? values.some((value) => condition.value.some((option) => option === value))
              : values.some((value) =>
                  Array.isArray(value)
                    ? value.includes(condition.value)
                    : typeof value === "string" && value.includes(String(condition.value)),
                );
  return { condition, matched, selected: values, error: null };
}
