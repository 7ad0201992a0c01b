import {
  JsonPathExpression,
  SentryConditions,
  WebhookCondition,
  WebhookIdempotency,
  type JsonScalar,
  type SentryLevel,
  type SentryResource,
} from "@lookout/protocol";

/**
 * The webhook and Sentry settings forms as typed, and their conversion to the protocol's shapes.
 * Pure: the panels keep drafts and call these to check and send them.
 */

export type ConditionOp = WebhookCondition["op"];

export const CONDITION_OPS: ReadonlyArray<{ op: ConditionOp; label: string; takesValue: boolean }> = [
  { op: "exists", label: "exists", takesValue: false },
  { op: "absent", label: "is absent", takesValue: false },
  { op: "equals", label: "equals", takesValue: true },
  { op: "not_equals", label: "does not equal", takesValue: true },
  { op: "contains", label: "contains", takesValue: true },
  { op: "one_of", label: "is one of", takesValue: true },
];

export function opLabel(op: ConditionOp): string {
  return CONDITION_OPS.find((entry) => entry.op === op)?.label ?? op;
}

export function opTakesValue(op: ConditionOp): boolean {
  return CONDITION_OPS.find((entry) => entry.op === op)?.takesValue ?? false;
}

/** One row of the conditions builder. `value` is text: `42`, `true`, `null` and `"quoted"` are JSON; anything else is a string. */
export interface ConditionDraft {
  path: string;
  op: ConditionOp;
  value: string;
}

export const EMPTY_CONDITION: ConditionDraft = { path: "$.", op: "equals", value: "" };

/** Text as a JSON scalar: JSON numbers, booleans, null and quoted strings are themselves; other text is a string. */
export function parseScalar(text: string): JsonScalar {
  const trimmed = text.trim();
  try {
    const value: unknown = JSON.parse(trimmed);
    if (typeof value !== "object" || value === null) return asScalar(value);
  } catch {
    // Not JSON: the text itself.
  }
  return trimmed;
}

/** The inverse of `parseScalar`: strings that would read as something else are quoted. */
export function formatScalar(value: JsonScalar): string {
  if (typeof value !== "string") return JSON.stringify(value);
  return parseScalar(value) === value && value.trim() === value ? value : JSON.stringify(value);
}

function asScalar(item: unknown): JsonScalar {
  if (item === null || typeof item === "string" || typeof item === "number" || typeof item === "boolean") return item;
  return JSON.stringify(item);
}

/** `a, b, 3` → `["a", "b", 3]`; a JSON array is read as one. */
function parseList(text: string): JsonScalar[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (Array.isArray(value)) return value.map(asScalar);
    } catch {
      // Fall through to a comma-separated list.
    }
  }
  return trimmed
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map(parseScalar);
}

export function draftFromCondition(condition: WebhookCondition): ConditionDraft {
  switch (condition.op) {
    case "exists":
    case "absent":
      return { path: condition.path, op: condition.op, value: "" };
    case "one_of":
      return { path: condition.path, op: condition.op, value: condition.value.map(formatScalar).join(", ") };
    default:
      return { path: condition.path, op: condition.op, value: formatScalar(condition.value) };
  }
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** A row as a condition the server accepts, or what is wrong with it in the schema's words. */
export function conditionFromDraft(draft: ConditionDraft): Checked<WebhookCondition> {
  const path = draft.path.trim();
  const value = draft.op === "one_of" ? parseList(draft.value) : opTakesValue(draft.op) ? parseScalar(draft.value) : undefined;
  const parsed = WebhookCondition.safeParse(value === undefined ? { path, op: draft.op } : { path, op: draft.op, value });
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const field = issue?.path[0] === "value" ? "value" : "path";
  return { ok: false, error: `${field === "path" ? "Path" : "Value"}: ${issue?.message ?? "not valid"}` };
}

/** Every row checked; errors by row index. */
export function conditionsFromDrafts(drafts: ConditionDraft[]): { conditions: WebhookCondition[]; errors: Map<number, string> } {
  const conditions: WebhookCondition[] = [];
  const errors = new Map<number, string>();
  drafts.forEach((draft, index) => {
    const checked = conditionFromDraft(draft);
    if (checked.ok) conditions.push(checked.value);
    else errors.set(index, checked.error);
  });
  return { conditions, errors };
}

/** Where a delivery's idempotency key comes from, as the form holds it. */
export interface IdempotencyDraft {
  from: "default" | "header" | "jsonpath";
  value: string;
}

export function draftFromIdempotency(idempotency: WebhookIdempotency | null): IdempotencyDraft {
  if (!idempotency) return { from: "default", value: "" };
  return idempotency.from === "header" ? { from: "header", value: idempotency.name } : { from: "jsonpath", value: idempotency.path };
}

export function idempotencyFromDraft(draft: IdempotencyDraft): Checked<WebhookIdempotency | null> {
  if (draft.from === "default") return { ok: true, value: null };
  const candidate = draft.from === "header" ? { from: "header", name: draft.value.trim() } : { from: "jsonpath", path: draft.value.trim() };
  const parsed = WebhookIdempotency.safeParse(candidate);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error.issues[0]?.message ?? "not valid" };
}

/** The sample payload box: JSON text, or what is wrong with it. */
export function parsePayload(text: string): Checked<unknown> {
  if (!text.trim()) return { ok: false, error: "Paste a JSON payload to test." };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: `Not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Sentry's filters as the form holds them: projects and environments as comma-separated text. */
export interface SentryConditionsDraft {
  resources: SentryResource[];
  projects: string;
  environments: string;
  levels: SentryLevel[];
}

export function draftFromSentryConditions(conditions: SentryConditions): SentryConditionsDraft {
  return {
    resources: conditions.resources,
    projects: conditions.projects.join(", "),
    environments: conditions.environments.join(", "),
    levels: conditions.levels,
  };
}

export function sentryConditionsFromDraft(draft: SentryConditionsDraft): Checked<SentryConditions> {
  const split = (text: string) =>
    text
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);
  const parsed = SentryConditions.safeParse({
    resources: draft.resources,
    projects: split(draft.projects),
    environments: split(draft.environments),
    levels: draft.levels,
  });
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `${String(issue?.path[0] ?? "conditions")}: ${issue?.message ?? "not valid"}` };
}

/** Whether a path is one the server evaluates (for marking a row while it is typed). */
export function isJsonPath(path: string): boolean {
  return JsonPathExpression.safeParse(path.trim()).success;
}
