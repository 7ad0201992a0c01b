import { describe, expect, it } from "vitest";
import {
  conditionFromDraft,
  conditionsFromDrafts,
  draftFromCondition,
  draftFromIdempotency,
  formatScalar,
  idempotencyFromDraft,
  parsePayload,
  parseScalar,
  sentryConditionsFromDraft,
} from "./trigger-settings";

describe("condition values", () => {
  it("read JSON scalars as themselves and other text as a string", () => {
    expect(parseScalar("42")).toBe(42);
    expect(parseScalar("true")).toBe(true);
    expect(parseScalar("null")).toBe(null);
    expect(parseScalar('"42"')).toBe("42");
    expect(parseScalar(" opened ")).toBe("opened");
    expect(parseScalar('{"a":1}')).toBe('{"a":1}');
  });

  it("format back to text that reads the same", () => {
    for (const value of ["opened", "42", "true", " padded", 42, false, null]) expect(parseScalar(formatScalar(value))).toBe(value);
    expect(formatScalar("opened")).toBe("opened");
    expect(formatScalar("42")).toBe('"42"');
  });
});

describe("condition rows", () => {
  it("become conditions, with typed values and lists", () => {
    expect(conditionFromDraft({ path: " $.action ", op: "equals", value: "opened" })).toEqual({
      ok: true,
      value: { path: "$.action", op: "equals", value: "opened" },
    });
    expect(conditionFromDraft({ path: "$.count", op: "not_equals", value: "0" })).toEqual({
      ok: true,
      value: { path: "$.count", op: "not_equals", value: 0 },
    });
    expect(conditionFromDraft({ path: "$.action", op: "one_of", value: "opened, reopened, 3" })).toEqual({
      ok: true,
      value: { path: "$.action", op: "one_of", value: ["opened", "reopened", 3] },
    });
    expect(conditionFromDraft({ path: "$.labels", op: "one_of", value: '["a,b", "c"]' })).toEqual({
      ok: true,
      value: { path: "$.labels", op: "one_of", value: ["a,b", "c"] },
    });
    expect(conditionFromDraft({ path: "$..id", op: "exists", value: "ignored" })).toEqual({
      ok: true,
      value: { path: "$..id", op: "exists" },
    });
  });

  it("refuse what the server refuses, saying which part is wrong", () => {
    const filter = conditionFromDraft({ path: "$.items[?(@.price > 10)]", op: "exists", value: "" });
    expect(filter).toEqual({ ok: false, error: expect.stringMatching(/^Path: filter and script expressions/) });
    expect(conditionFromDraft({ path: "action", op: "exists", value: "" })).toEqual({ ok: false, error: "Path: a JSONPath starts with $" });
    expect(conditionFromDraft({ path: "$.action", op: "one_of", value: " , " })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^Value:/),
    });
  });

  it("are checked together, errors by row", () => {
    const result = conditionsFromDrafts([
      { path: "$.a", op: "exists", value: "" },
      { path: "nope", op: "exists", value: "" },
      { path: "$.b", op: "equals", value: "x" },
    ]);
    expect(result.conditions).toHaveLength(2);
    expect([...result.errors.keys()]).toEqual([1]);
  });

  it("round-trip through a draft", () => {
    const condition = { path: "$.action", op: "one_of" as const, value: ["opened", "42", 7] };
    expect(conditionFromDraft(draftFromCondition(condition))).toEqual({ ok: true, value: condition });
  });
});

describe("idempotency, payloads and Sentry filters", () => {
  it("idempotency comes from the default header, another header, or a path", () => {
    expect(idempotencyFromDraft(draftFromIdempotency(null))).toEqual({ ok: true, value: null });
    expect(idempotencyFromDraft({ from: "header", value: " X-Delivery " })).toEqual({
      ok: true,
      value: { from: "header", name: "X-Delivery" },
    });
    expect(idempotencyFromDraft({ from: "jsonpath", value: "$.id" })).toEqual({ ok: true, value: { from: "jsonpath", path: "$.id" } });
    expect(idempotencyFromDraft({ from: "header", value: "bad header" }).ok).toBe(false);
  });

  it("a sample payload must be JSON", () => {
    expect(parsePayload('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parsePayload("")).toEqual({ ok: false, error: "Paste a JSON payload to test." });
    expect(parsePayload("{a:")).toMatchObject({ ok: false, error: expect.stringMatching(/^Not JSON/) });
  });

  it("Sentry projects and environments are comma-separated", () => {
    expect(
      sentryConditionsFromDraft({ resources: ["issue"], projects: "web, api,", environments: " production ", levels: ["error"] }),
    ).toEqual({
      ok: true,
      value: { resources: ["issue"], projects: ["web", "api"], environments: ["production"], levels: ["error"] },
    });
  });
});
