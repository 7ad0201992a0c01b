import {
  CreateAutomationRequest,
  type Automation,
  type AutomationTrigger,
  type RunStatus,
  type RunTrigger,
  type TriageMode,
  type UpdateAutomationRequest,
} from "@lookout/protocol";
import { fieldErrors } from "../lib/zod-issues";

export type Tone = "green" | "amber" | "red" | "blue" | "gray";
export type TriggerKind = AutomationTrigger["kind"];

export const TRIGGER_KINDS: readonly TriggerKind[] = ["cron", "webhook", "sentry", "manual"];

const TRIGGER_LABEL: Record<TriggerKind, string> = { cron: "Schedule", webhook: "Webhook", sentry: "Sentry", manual: "Manual" };
const TRIGGER_ICON: Record<TriggerKind, string> = { cron: "◷", webhook: "⇄", sentry: "⚠", manual: "▶" };

export function triggerKindLabel(kind: TriggerKind): string {
  return TRIGGER_LABEL[kind];
}

export function triggerIcon(kind: TriggerKind): string {
  return TRIGGER_ICON[kind];
}

/** "Schedule · 0 9 * * 1-5 (Europe/Berlin)", "Webhook", … */
export function triggerSummary(trigger: AutomationTrigger): string {
  return trigger.kind === "cron" ? `Schedule · ${trigger.expression} (${trigger.timeZone})` : TRIGGER_LABEL[trigger.kind];
}

/** Whether an automation runs, and if not, why (a person paused it, or its failures did). */
export function automationStatus(automation: Automation): { label: string; tone: Tone; reason: string | null } {
  if (automation.enabled) return { label: "Active", tone: "green", reason: null };
  return { label: "Paused", tone: "amber", reason: automation.pausedReason };
}

const RUN_STATUS: Record<RunStatus, { label: string; tone: Tone; live: boolean }> = {
  starting: { label: "Starting", tone: "amber", live: true },
  running: { label: "Running", tone: "blue", live: true },
  succeeded: { label: "Succeeded", tone: "green", live: false },
  failed: { label: "Failed", tone: "red", live: false },
  skipped: { label: "Skipped", tone: "gray", live: false },
  duplicate: { label: "Duplicate", tone: "gray", live: false },
};

export function runStatusView(status: RunStatus): { label: string; tone: Tone; live: boolean } {
  return RUN_STATUS[status];
}

const RUN_TRIGGER_LABEL: Record<RunTrigger, string> = {
  cron: "Schedule",
  webhook: "Webhook",
  sentry: "Sentry",
  manual: "Run now",
  slack: "Slack",
  github: "GitHub",
  linear: "Linear",
};

export function runTriggerLabel(trigger: RunTrigger): string {
  return RUN_TRIGGER_LABEL[trigger];
}

/** Whoever owns an automation, or an admin, may change it; the server checks again. */
export function canChangeAutomation(automation: Automation, me: { userId: string; admin: boolean }): boolean {
  return me.admin || automation.ownerId === me.userId;
}

/** The create/edit form as typed: every field a string, so half-typed input is kept as is. */
export interface AutomationDraft {
  name: string;
  instructions: string;
  repositoryId: string;
  /** Empty: the repository's default branch. */
  baseBranch: string;
  /** Empty: the Worker's default model. */
  model: string;
  reasoningEffort: string;
  triggerKind: TriggerKind;
  cronExpression: string;
  timeZone: string;
  triage: TriageMode;
  maxConcurrentRuns: string;
}

/** Weekdays at nine: a schedule that passes the default minimum interval. */
export const DEFAULT_CRON_EXPRESSION = "0 9 * * 1-5";

export function emptyDraft(timeZone: string, repositoryId = ""): AutomationDraft {
  return {
    name: "",
    instructions: "",
    repositoryId,
    baseBranch: "",
    model: "",
    reasoningEffort: "",
    triggerKind: "cron",
    cronExpression: DEFAULT_CRON_EXPRESSION,
    timeZone,
    triage: "follow-up",
    maxConcurrentRuns: "1",
  };
}

export function draftFrom(automation: Automation, fallbackTimeZone: string): AutomationDraft {
  const trigger = automation.trigger;
  return {
    name: automation.name,
    instructions: automation.instructions,
    repositoryId: automation.repositoryId,
    baseBranch: automation.baseBranch ?? "",
    model: automation.model ?? "",
    reasoningEffort: automation.reasoningEffort ?? "",
    triggerKind: trigger.kind,
    cronExpression: trigger.kind === "cron" ? trigger.expression : DEFAULT_CRON_EXPRESSION,
    timeZone: trigger.kind === "cron" ? trigger.timeZone : fallbackTimeZone,
    triage: automation.triage,
    maxConcurrentRuns: String(automation.maxConcurrentRuns),
  };
}

function triggerFrom(draft: AutomationDraft): unknown {
  return draft.triggerKind === "cron"
    ? { kind: "cron", expression: draft.cronExpression.trim(), timeZone: draft.timeZone }
    : { kind: draft.triggerKind };
}

export type DraftResult = { ok: true; request: CreateAutomationRequest } | { ok: false; errors: Record<string, string> };

/**
 * The draft as a create request, checked by the protocol's own schema. Errors are keyed by the
 * form's field names (`cronExpression` for the schedule) so each shows under its input.
 */
export function requestFromDraft(draft: AutomationDraft): DraftResult {
  const runs = draft.maxConcurrentRuns.trim();
  const parsed = CreateAutomationRequest.safeParse({
    name: draft.name,
    instructions: draft.instructions,
    repositoryId: draft.repositoryId,
    baseBranch: draft.baseBranch.trim() || null,
    model: draft.model || null,
    reasoningEffort: draft.reasoningEffort || null,
    trigger: triggerFrom(draft),
    triage: draft.triage,
    maxConcurrentRuns: /^\d+$/.test(runs) ? Number(runs) : Number.NaN,
  });
  if (parsed.success) return { ok: true, request: parsed.data };
  const errors = fieldErrors(parsed.error);
  if (errors.trigger) {
    const fields = draft.cronExpression.trim().split(/\s+/).filter(Boolean).length;
    errors.cronExpression =
      fields === 5 ? errors.trigger : `Write five fields (minute hour day-of-month month day-of-week), not ${fields}.`;
    delete errors.trigger;
  }
  if (errors.repositoryId) errors.repositoryId = "Choose a repository.";
  return { ok: false, errors };
}

/** Only the fields an edit changed (a PATCH of nothing is refused, so the caller skips it). */
export function patchFrom(automation: Automation, request: CreateAutomationRequest): UpdateAutomationRequest {
  const patch: UpdateAutomationRequest = {};
  const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  if (differs(request.name, automation.name)) patch.name = request.name;
  if (differs(request.instructions, automation.instructions)) patch.instructions = request.instructions;
  if (differs(request.repositoryId, automation.repositoryId)) patch.repositoryId = request.repositoryId;
  if (differs(request.baseBranch, automation.baseBranch)) patch.baseBranch = request.baseBranch;
  if (differs(request.model, automation.model)) patch.model = request.model;
  if (differs(request.reasoningEffort, automation.reasoningEffort)) patch.reasoningEffort = request.reasoningEffort;
  if (differs(request.trigger, automation.trigger)) patch.trigger = request.trigger;
  if (differs(request.triage, automation.triage)) patch.triage = request.triage;
  if (differs(request.maxConcurrentRuns, automation.maxConcurrentRuns)) patch.maxConcurrentRuns = request.maxConcurrentRuns;
  return patch;
}

/** The browser's own time zone, the form's default. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** IANA time zones for the select: UTC first, then the runtime's list, always including `current`. */
export function timeZoneOptions(current: string): string[] {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zones = new Set(["UTC", ...known]);
  if (current) zones.add(current);
  return ["UTC", ...[...zones].filter((zone) => zone !== "UTC").sort()];
}

/** "Mon, 8 Dec, 09:00" in the schedule's own time zone. */
export function formatInZone(atMs: number, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, {
      weekday: "short",
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
      timeZone,
    }).format(atMs);
  } catch {
    return new Date(atMs).toISOString();
  }
}
