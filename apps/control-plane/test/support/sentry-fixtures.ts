/**
 * Sentry integration-platform deliveries in the shapes Sentry's documentation publishes
 * (getsentry/sentry-docs `docs/organization/integrations/integration-platform/webhooks/*.mdx`),
 * with the documented sample values; no npm package ships them. Fields this code ignores are
 * kept, so a test proves they do not get in the way.
 */

const installation = { uuid: "a8e5d37a-696c-4c54-adb5-b3f28d64c7de" };
const actor = { id: "sentry", name: "Sentry", type: "application" };

function frame(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    abs_path: "https://static.jsbin.com/js/prod/runner-4.1.7.min.js",
    colno: 10866,
    context_line: "{snip} e(a.old),a.active=b,e(a.target,b),setTimeout(function(){c&&c(); {snip}",
    data: { orig_in_app: 1 },
    errors: null,
    filename: "/js/prod/runner-4.1.7.min.js",
    function: null,
    image_addr: null,
    in_app: false,
    instruction_addr: null,
    lineno: 1,
    module: "prod/runner-4.1.7",
    package: null,
    platform: null,
    post_context: null,
    pre_context: null,
    raw_function: null,
    symbol: null,
    symbol_addr: null,
    trust: null,
    vars: null,
    ...overrides,
  };
}

/** `data.event` of the Issue Alerts page (an event of issue 1117540176 in project 1, `front-end`). */
function event(issueId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    _ref: 1,
    _ref_version: 2,
    contexts: { browser: { name: "Chrome", type: "browser", version: "75.0.3770" } },
    culprit: "?(<anonymous>)",
    datetime: "2019-08-19T21:06:17.677000Z",
    dist: null,
    event_id: "e4874d664c3540c1a32eab185f12c5ab",
    exception: {
      values: [
        {
          mechanism: { data: { message: "heck is not defined", mode: "stack", name: "ReferenceError" }, handled: false, type: "onerror" },
          stacktrace: {
            frames: [
              frame({}),
              frame({ colno: 13924, context_line: '{snip} e){i._raw("error",e&&e.stack?e.stack:a+" (line "+c+")")} {snip}' }),
              frame({ abs_path: "<anonymous>", colno: 5, context_line: null, filename: "<anonymous>", lineno: 3, module: null }),
            ],
          },
          type: "ReferenceError",
          value: "heck is not defined",
        },
      ],
    },
    fingerprint: ["{{ default }}"],
    hashes: ["29f7ffc4903a8a990408b80a3b4c95a2"],
    issue_url: `https://sentry.io/api/0/issues/${issueId}/`,
    issue_id: issueId,
    key_id: "667532",
    level: "error",
    location: "<anonymous>",
    logger: "",
    message: "",
    metadata: { filename: "<anonymous>", type: "ReferenceError", value: "heck is not defined" },
    platform: "javascript",
    project: 1,
    received: 1566248777.677,
    release: null,
    sdk: { name: "sentry.javascript.browser", version: "5.5.0" },
    tags: [
      ["browser", "Chrome 75.0.3770"],
      ["environment", "production"],
      ["handled", "no"],
      ["level", "error"],
      ["url", "https://null.jsbin.com/runner"],
    ],
    time_spent: null,
    timestamp: 1566248777.677,
    title: "ReferenceError: heck is not defined",
    type: "error",
    url: "https://sentry.io/api/0/projects/test-org/front-end/events/e4874d664c3540c1a32eab185f12c5ab/",
    user: { ip_address: "162.218.85.90" },
    version: "7",
    web_url: `https://sentry.io/organizations/test-org/issues/${issueId}/events/e4874d664c3540c1a32eab185f12c5ab/`,
    ...overrides,
  };
}

/** `Sentry-Hook-Resource: event_alert` — an issue alert rule fired. */
export function eventAlertPayload(issueId = "1117540176", overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: "triggered",
    actor,
    data: {
      event: event(issueId, overrides),
      triggered_rule: "Very Important Alert Rule!",
      issue_alert: { title: "Very Important Alert Rule!", settings: [{ name: "channel", value: "#general" }] },
    },
    installation,
  };
}

/** `Sentry-Hook-Resource: error` — an error event was created. */
export function errorPayload(issueId = "1170820242"): Record<string, unknown> {
  return {
    action: "created",
    actor,
    data: {
      error: event(issueId, {
        _ref: 1293919,
        culprit: "?(runner)",
        event_id: "bb78c1407cea4519aa397afc059c793d",
        title: "ReferenceError: blooopy is not defined",
        url: "https://sentry.io/api/0/projects/test-org/front-end/events/bb78c1407cea4519aa397afc059c793d/",
      }),
    },
    installation,
  };
}

/** `Sentry-Hook-Resource: issue` — an issue was created (or changed state, per `action`). */
export function issuePayload(issueId = "1170820242", action = "created"): Record<string, unknown> {
  return {
    action,
    actor,
    data: {
      issue: {
        annotations: [],
        assignedTo: null,
        count: "1",
        culprit: "?(runner)",
        firstSeen: "2019-08-19T20:58:37.391000Z",
        hasSeen: false,
        id: issueId,
        isBookmarked: false,
        isPublic: false,
        isSubscribed: false,
        lastSeen: "2019-08-19T20:58:37.391000Z",
        level: "error",
        logger: null,
        metadata: { filename: "/runner", type: "ReferenceError", value: "blooopy is not defined" },
        numComments: 0,
        permalink: null,
        platform: "javascript",
        project: { id: "1", name: "front-end", platform: "", slug: "front-end" },
        shareId: null,
        shortId: "FRONT-END-9",
        status: "unresolved",
        statusDetails: {},
        subscriptionDetails: null,
        substatus: "escalating",
        title: "ReferenceError: blooopy is not defined",
        type: "error",
        userCount: 1,
        web_url: `https://sentry.io/organizations/test-org/issues/${issueId}/`,
      },
    },
    installation,
  };
}

/** `Sentry-Hook-Resource: metric_alert` — a metric alert changed state (`critical`, `warning`, `resolved`). */
export function metricAlertPayload(action = "critical", ruleId = "7"): Record<string, unknown> {
  return {
    action,
    actor,
    data: {
      description_text: "1000 events in the last 10 minutes\nFilter: level:error",
      description_title: "Critical: Too many errors",
      metric_alert: {
        alert_rule: {
          aggregate: "count()",
          created_by: null,
          dataset: "events",
          date_created: "2020-09-13T12:26:40.000000Z",
          environment: "production",
          id: ruleId,
          include_all_projects: false,
          name: "Too many errors",
          organization_id: "5",
          projects: ["bar"],
          query: "level:error",
          resolution: 1,
          resolve_threshold: null,
          status: 0,
          threshold_period: 1,
          threshold_type: 0,
          time_window: 10,
          triggers: [],
        },
        date_closed: null,
        date_created: "2020-09-13T12:26:40.000000Z",
        date_detected: "2020-09-13T12:26:40.000000Z",
        date_started: "2020-09-13T12:26:40.000000Z",
        id: "4",
        identifier: "1",
        organization_id: "5",
        projects: ["bar"],
        status: 2,
        status_method: 3,
        title: "Sacred Marmot",
        type: 2,
      },
      web_url: "https://sentry.io/organizations/baz/alerts/1/",
    },
    installation,
  };
}
