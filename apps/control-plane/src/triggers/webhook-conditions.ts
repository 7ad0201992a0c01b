import { JSONPath } from "jsonpath-plus";
import { type ConditionResult, type JsonScalar, LookoutError, type WebhookCondition } from "@lookout/protocol";

/** Values a condition result shows of what its path selected. */
const SHOWN_SELECTIONS = 5;
/** Longest string shown of one selected value. */
const SHOWN_VALUE_CHARS = 200;

/**
 * Selects what a JSONPath expression names in `payload`, with `jsonpath-plus` and `eval: false`:
 * members, wildcards, recursive descent, indexes, slices and unions work; a filter or script
 * expression is refused by the library instead of run, so a condition can never execute code.
 * An expression the library cannot evaluate is `JSONPATH_INVALID`.
 */
export function selectJsonPath(payload: unknown, path: string): unknown[] {
  if (payload === null || typeof payload !== "object") return [];
  let selected: unknown;
  try {
    selected = JSONPath({ path, json: payload, eval: false, wrap: true });
  } catch (error) {
    throw new LookoutError("JSONPATH_INVALID", `The JSONPath ${JSON.stringify(path)} cannot be evaluated: ${messageOf(error)}`);
  }
  return Array.isArray(selected) ? selected : [];
}

/** Checks an expression evaluates (against an empty document) before it is stored. */
export function assertJsonPathUsable(path: string): void {
  selectJsonPath({}, path);
}

/** Evaluates one condition; an expression that cannot be evaluated does not match and says why. */
export function evaluateCondition(payload: unknown, condition: WebhookCondition): ConditionResult {
  let selected: unknown[];
  try {
    selected = selectJsonPath(payload, condition.path);
  } catch (error) {
    return { condition, matched: false, selected: [], error: messageOf(error) };
  }
  return { condition, matched: holds(condition, selected), selected: selected.slice(0, SHOWN_SELECTIONS).map(shown), error: null };
}

/** Every condition's result, and whether all of them hold (no conditions: every payload matches). */
export function evaluateConditions(
  payload: unknown,
  conditions: readonly WebhookCondition[],
): { matched: boolean; results: ConditionResult[] } {
  const results = conditions.map((condition) => evaluateCondition(payload, condition));
  return { matched: results.every((result) => result.matched), results };
}

/** A one-line reason for the first condition that failed, for a run's history. */
export function failedConditionReason(results: readonly ConditionResult[]): string | null {
  const failed = results.find((result) => !result.matched);
  if (!failed) return null;
  const { condition } = failed;
  const expected = "value" in condition ? ` ${JSON.stringify(condition.value)}` : "";
  const got = failed.error ?? (failed.selected.length === 0 ? "it selects nothing" : `it selects ${JSON.stringify(failed.selected)}`);
  return `condition ${condition.path} ${condition.op}${expected} does not hold: ${got}`;
}

function holds(condition: WebhookCondition, selected: unknown[]): boolean {
  switch (condition.op) {
    case "exists":
      return selected.length > 0;
    case "absent":
      return selected.length === 0;
    case "equals":
      return selected.some((value) => value === condition.value);
    case "not_equals":
      return !selected.some((value) => value === condition.value);
    case "contains":
      return selected.some((value) => contains(value, condition.value));
    case "one_of":
      return selected.some((value) => condition.value.some((candidate) => candidate === value));
  }
}

function contains(value: unknown, needle: JsonScalar): boolean {
  if (typeof value === "string") return typeof needle === "string" && value.includes(needle);
  if (Array.isArray(value)) return value.some((element) => element === needle);
  return false;
}

function shown(value: unknown): unknown {
  if (typeof value === "string") return value.length > SHOWN_VALUE_CHARS ? `${value.slice(0, SHOWN_VALUE_CHARS - 1)}…` : value;
  if (value !== null && typeof value === "object") {
    const json = JSON.stringify(value);
    return json.length > SHOWN_VALUE_CHARS ? `${json.slice(0, SHOWN_VALUE_CHARS - 1)}…` : value;
  }
  return value;
}

function messageOf(error: unknown): string {
  if (error instanceof LookoutError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
