import { createHmac, randomUUID } from "node:crypto";

/**
 * Sentry integration-platform deliveries as a sender makes them, for the end-to-end tests and the
 * benchmarks: payloads in the shapes Sentry documents (getsentry/sentry-docs
 * `integration-platform/webhooks/issues.mdx` and `issue-alerts.mdx`, trimmed to the fields an
 * integration reads), and the headers Sentry sends with them, signed over the exact bytes.
 */

const installation = { uuid: "a8e5d37a-696c-4c54-adb5-b3f28d64c7de" };
const actor = { id: "sentry", name: "Sentry", type: "application" };

/** `Sentry-Hook-Resource: issue`: an issue was created (or regressed, with `action: "unresolved"`). */
export function sentryIssuePayload(issueId: string, action = "created"): Record<string, unknown> {
  return {
    action,
    actor,
    data: {
      issue: {
        id: issueId,
        shortId: "FRONT-END-9",
        title: "ReferenceError: blooopy is not defined",
        culprit: "?(runner)",
        level: "error",
        count: "1",
        userCount: 1,
        firstSeen: "2019-08-19T20:58:37.391000Z",
        lastSeen: "2019-08-19T20:58:37.391000Z",
        status: "unresolved",
        substatus: "escalating",
        platform: "javascript",
        project: { id: "1", name: "front-end", platform: "", slug: "front-end" },
        metadata: { filename: "/runner", type: "ReferenceError", value: "blooopy is not defined" },
        web_url: `https://sentry.io/organizations/test-org/issues/${issueId}/`,
      },
    },
    installation,
  };
}

/** `Sentry-Hook-Resource: event_alert`: an issue alert rule fired for an event of `issueId`. */
export function sentryEventAlertPayload(issueId: string): Record<string, unknown> {
  const frame = (lineno: number, fn: string | null) => ({
    abs_path: "https://static.jsbin.com/js/prod/runner-4.1.7.min.js",
    filename: "/js/prod/runner-4.1.7.min.js",
    function: fn,
    module: "prod/runner-4.1.7",
    lineno,
    colno: 10866,
    in_app: false,
    context_line: null,
  });
  return {
    action: "triggered",
    actor,
    data: {
      event: {
        event_id: "e4874d664c3540c1a32eab185f12c5ab",
        issue_id: issueId,
        title: "ReferenceError: blooopy is not defined",
        culprit: "?(runner)",
        level: "error",
        project: 1,
        platform: "javascript",
        datetime: "2019-08-19T21:06:17.677000Z",
        tags: [
          ["environment", "production"],
          ["level", "error"],
        ],
        exception: {
          values: [
            { type: "ReferenceError", value: "blooopy is not defined", stacktrace: { frames: [frame(1, null), frame(3, "runner")] } },
          ],
        },
        url: "https://sentry.io/api/0/projects/test-org/front-end/events/e4874d664c3540c1a32eab185f12c5ab/",
        web_url: `https://sentry.io/organizations/test-org/issues/${issueId}/events/e4874d664c3540c1a32eab185f12c5ab/`,
      },
      triggered_rule: "Very Important Alert Rule!",
      issue_alert: { title: "Very Important Alert Rule!", settings: [{ name: "channel", value: "#general" }] },
    },
    installation,
  };
}

/** Hex HMAC-SHA256 of `body` under the integration's client secret: `Sentry-Hook-Signature`. */
export function sentrySignature(clientSecret: string, body: string): string {
  return createHmac("sha256", clientSecret).update(body).digest("hex");
}

/** The headers Sentry sends with `body`, signed with `clientSecret`; a new `Request-ID` unless given. */
export function sentryHeaders(
  clientSecret: string,
  body: string,
  resource: string,
  requestId: string = randomUUID(),
  nowMs: number = Date.now(),
): Record<string, string> {
  return {
    "content-type": "application/json",
    "request-id": requestId,
    "sentry-hook-resource": resource,
    "sentry-hook-timestamp": String(Math.floor(nowMs / 1000)),
    "sentry-hook-signature": sentrySignature(clientSecret, body),
  };
}
