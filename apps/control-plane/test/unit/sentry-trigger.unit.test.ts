import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { LookoutError, SentryConditions } from "@lookout/protocol";
import { matchSentryConditions, sentryContextBlock } from "../../src/triggers/sentry-context";
import { parseSentryPayload } from "../../src/triggers/sentry-payload";
import { assertFreshSentryTimestamp, SENTRY_TIMESTAMP_WINDOW_MS, verifySentrySignature } from "../../src/triggers/sentry-signature";
import { errorPayload, eventAlertPayload, issuePayload, metricAlertPayload } from "../support/sentry-fixtures";

const SECRET = "sentry-client-secret-0123456789";
const bytes = (text: string) => new TextEncoder().encode(text);
/** What Sentry sends: hex HMAC-SHA256 of the body, computed here with Node's own crypto. */
const sign = (body: string, secret = SECRET) => createHmac("sha256", secret).update(body).digest("hex");

async function refusal(work: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof work === "function" ? work() : work);
  } catch (error) {
    if (error instanceof LookoutError) return error.code;
    throw error;
  }
  return "accepted";
}

const conditions = (value: Partial<SentryConditions>) => SentryConditions.parse(value);

describe("Sentry-Hook-Signature", () => {
  const body = JSON.stringify(eventAlertPayload());

  it("accepts the HMAC of the exact bytes, in either case", async () => {
    expect(await refusal(verifySentrySignature(SECRET, bytes(body), sign(body)))).toBe("accepted");
    expect(await refusal(verifySentrySignature(SECRET, bytes(body), sign(body).toUpperCase()))).toBe("accepted");
  });

  it("refuses a missing, malformed, wrong-secret or re-serialised signature", async () => {
    expect(await refusal(verifySentrySignature(SECRET, bytes(body), undefined))).toBe("WEBHOOK_SIGNATURE_INVALID");
    expect(await refusal(verifySentrySignature(SECRET, bytes(body), "sha256=abc"))).toBe("WEBHOOK_SIGNATURE_INVALID");
    expect(await refusal(verifySentrySignature(SECRET, bytes(body), sign(body, "another-secret-0123456789")))).toBe(
      "WEBHOOK_SIGNATURE_INVALID",
    );
    // The same JSON with different whitespace is different bytes: the signature covers what was sent.
    const pretty = JSON.stringify(JSON.parse(body), null, 2);
    expect(await refusal(verifySentrySignature(SECRET, bytes(pretty), sign(body)))).toBe("WEBHOOK_SIGNATURE_INVALID");
  });
});

describe("Sentry-Hook-Timestamp", () => {
  const now = Date.UTC(2026, 11, 5, 12, 0, 0);
  const seconds = (ms: number) => String(Math.floor(ms / 1000));

  it("accepts a timestamp inside the window either way, in whole or fractional seconds", async () => {
    expect(await refusal(() => assertFreshSentryTimestamp(seconds(now), now))).toBe("accepted");
    expect(await refusal(() => assertFreshSentryTimestamp(seconds(now - SENTRY_TIMESTAMP_WINDOW_MS + 1000), now))).toBe("accepted");
    expect(await refusal(() => assertFreshSentryTimestamp(seconds(now + 60_000), now))).toBe("accepted");
    expect(await refusal(() => assertFreshSentryTimestamp(`${seconds(now)}.123`, now))).toBe("accepted");
  });

  it("refuses a stale, future, missing or non-numeric timestamp", async () => {
    expect(await refusal(() => assertFreshSentryTimestamp(seconds(now - SENTRY_TIMESTAMP_WINDOW_MS - 1000), now))).toBe("STALE_REQUEST");
    expect(await refusal(() => assertFreshSentryTimestamp(seconds(now + SENTRY_TIMESTAMP_WINDOW_MS + 1000), now))).toBe("STALE_REQUEST");
    expect(await refusal(() => assertFreshSentryTimestamp(undefined, now))).toBe("STALE_REQUEST");
    expect(await refusal(() => assertFreshSentryTimestamp(String(now), now))).toBe("STALE_REQUEST"); // milliseconds
    expect(await refusal(() => assertFreshSentryTimestamp("yesterday", now))).toBe("STALE_REQUEST");
  });
});

describe("Sentry payloads in their documented shapes", () => {
  it("reads an issue alert: the issue as subject, project slug from the event URL, frames most recent first", () => {
    const alert = parseSentryPayload("event_alert", eventAlertPayload("1117540176"));
    expect(alert).toMatchObject({
      actionable: true,
      subjectKey: "sentry:issue:1117540176",
      title: "ReferenceError: heck is not defined",
      culprit: "?(<anonymous>)",
      level: "error",
      project: { id: "1", slug: "front-end" },
      environment: "production",
      rule: "Very Important Alert Rule!",
      exception: "ReferenceError: heck is not defined",
      link: "https://sentry.io/organizations/test-org/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/",
    });
    expect(alert.frames.map((frame) => frame.location)).toEqual([
      "<anonymous>:3:5",
      "/js/prod/runner-4.1.7.min.js:1:13924",
      "/js/prod/runner-4.1.7.min.js:1:10866",
    ]);
  });

  it("reads an error, an issue and a metric alert", () => {
    expect(parseSentryPayload("error", errorPayload("1170820242"))).toMatchObject({
      subjectKey: "sentry:issue:1170820242",
      title: "ReferenceError: blooopy is not defined",
      actionable: true,
    });
    const issue = parseSentryPayload("issue", issuePayload("1170820242"));
    expect(issue).toMatchObject({
      subjectKey: "sentry:issue:1170820242",
      title: "FRONT-END-9: ReferenceError: blooopy is not defined",
      firstSeen: "2019-08-19T20:58:37.391000Z",
      count: "1 events, 1 users",
      project: { id: "1", slug: "front-end" },
      environment: null,
      frames: [],
    });
    expect(parseSentryPayload("metric_alert", metricAlertPayload("critical", "7"))).toMatchObject({
      subjectKey: "sentry:metric-alert:7",
      title: "Critical: Too many errors",
      level: "error",
      projects: ["bar"],
      environment: "production",
      actionable: true,
    });
  });

  it("marks resolutions and assignments as asking for no work", () => {
    expect(parseSentryPayload("issue", issuePayload("1", "resolved")).actionable).toBe(false);
    expect(parseSentryPayload("issue", issuePayload("1", "assigned")).actionable).toBe(false);
    expect(parseSentryPayload("issue", issuePayload("1", "unresolved")).actionable).toBe(true);
    expect(parseSentryPayload("metric_alert", metricAlertPayload("resolved")).actionable).toBe(false);
  });

  it("refuses a body that is not the resource's shape", async () => {
    expect(await refusal(() => parseSentryPayload("issue", eventAlertPayload()))).toBe("VALIDATION_FAILED");
    expect(await refusal(() => parseSentryPayload("event_alert", { action: "triggered", data: {} }))).toBe("VALIDATION_FAILED");
    expect(await refusal(() => parseSentryPayload("metric_alert", []))).toBe("VALIDATION_FAILED");
  });
});

describe("Sentry conditions", () => {
  const alert = parseSentryPayload("event_alert", eventAlertPayload());

  it("lets everything actionable through with no conditions", () => {
    expect(matchSentryConditions(alert, conditions({}))).toEqual({ matched: true });
    expect(matchSentryConditions(parseSentryPayload("issue", issuePayload("1", "resolved")), conditions({})).matched).toBe(false);
  });

  it("matches a project by slug or id, an environment and a level", () => {
    expect(matchSentryConditions(alert, conditions({ projects: ["front-end"] })).matched).toBe(true);
    expect(matchSentryConditions(alert, conditions({ projects: ["1"] })).matched).toBe(true);
    expect(matchSentryConditions(alert, conditions({ environments: ["production"], levels: ["fatal", "error"] })).matched).toBe(true);
  });

  it("says which condition failed", () => {
    expect(matchSentryConditions(alert, conditions({ projects: ["back-end"] }))).toEqual({
      matched: false,
      reason: "project front-end/1 is not one of back-end",
    });
    expect(matchSentryConditions(alert, conditions({ environments: ["staging"] }))).toMatchObject({ matched: false });
    expect(matchSentryConditions(alert, conditions({ levels: ["fatal"] }))).toMatchObject({
      matched: false,
      reason: "level error is not one of fatal",
    });
    expect(matchSentryConditions(alert, conditions({ resources: ["issue"] }))).toMatchObject({ matched: false });
  });

  it("fails closed when the delivery does not name the filtered field", () => {
    const issue = parseSentryPayload("issue", issuePayload());
    expect(matchSentryConditions(issue, conditions({ environments: ["production"] }))).toEqual({
      matched: false,
      reason: "environment (none named) is not one of production",
    });
  });
});

describe("the Sentry context block", () => {
  it("carries title, culprit, level, project, link and the top frames, crash site first", () => {
    const block = sentryContextBlock(parseSentryPayload("event_alert", eventAlertPayload()));
    expect(block).toContain("Title: ReferenceError: heck is not defined");
    expect(block).toContain("Culprit: ?(<anonymous>)");
    expect(block).toContain("Level: error");
    expect(block).toContain("Project: front-end, id 1");
    expect(block).toContain("Link: https://sentry.io/organizations/test-org/issues/1117540176/");
    const frames = block.split("\n").filter((line) => /^ {2}\d\. /.test(line));
    expect(frames[0]).toBe("  1. <anonymous>:3:5");
    expect(frames).toHaveLength(3);
  });

  it("carries first seen and count for an issue, and says where its stack is", () => {
    const block = sentryContextBlock(parseSentryPayload("issue", issuePayload()));
    expect(block).toContain("First seen: 2019-08-19T20:58:37.391000Z");
    expect(block).toContain("Count: 1 events, 1 users");
    expect(block).toContain("Stack frames: not in this webhook");
  });

  it("keeps the sender's text on one line per field, so a title cannot forge another field", () => {
    const block = sentryContextBlock(
      parseSentryPayload("event_alert", eventAlertPayload("9", { title: "Boom\nLevel: fatal\nLink: https://evil" })),
    );
    expect(block).toContain("Title: Boom Level: fatal Link: https://evil");
    expect(block.split("\n").filter((line) => line.startsWith("Level:"))).toEqual(["Level: error"]);
  });
});
