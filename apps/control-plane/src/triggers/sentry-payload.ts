import { z } from "zod";
import { LookoutError, type SentryLevel, type SentryResource, SentryLevel as SentryLevelSchema, summarizeIssues } from "@lookout/protocol";

/**
 * Sentry's integration-platform payloads, in the shapes its documentation publishes
 * (docs.sentry.io → Integrations → Integration Platform → Webhooks: Issues, Issue Alerts, Metric
 * Alerts, Errors), reduced to one `SentryAlert`. Only the fields a prompt or a condition reads are
 * required; everything else Sentry sends is ignored, so a new field never breaks a delivery.
 */

const Text = z.string().max(100_000);
const OptionalText = Text.nullish();
/** Sentry sends ids and counts as strings in some payloads and numbers in others. */
const IdLike = z.union([z.string().min(1).max(64), z.number().int().nonnegative()]).transform(String);

const Frame = z.object({
  filename: OptionalText,
  abs_path: OptionalText,
  function: OptionalText,
  module: OptionalText,
  lineno: z.number().nullish(),
  colno: z.number().nullish(),
  in_app: z.boolean().nullish(),
  context_line: OptionalText,
});
type Frame = z.infer<typeof Frame>;

const ExceptionValue = z.object({
  type: OptionalText,
  value: OptionalText,
  stacktrace: z.object({ frames: z.array(Frame).max(2_000).nullish() }).nullish(),
});

/** A tag is `[key, value]` in these payloads; the object form some APIs use is accepted too. */
const Tag = z.union([
  z.tuple([z.string(), z.string()]),
  z.object({ key: z.string(), value: z.string() }).transform((t) => [t.key, t.value]),
]);

/** `data.event` of an `event_alert`, `data.error` of an `error`: one event of an issue. */
const SentryEvent = z.object({
  event_id: OptionalText,
  issue_id: IdLike,
  title: Text,
  culprit: OptionalText,
  level: OptionalText,
  project: IdLike.nullish(),
  environment: OptionalText,
  datetime: OptionalText,
  web_url: OptionalText,
  url: OptionalText,
  tags: z.array(Tag).max(1_000).nullish(),
  exception: z.object({ values: z.array(ExceptionValue).max(100).nullish() }).nullish(),
});
type SentryEvent = z.infer<typeof SentryEvent>;

const SentryIssue = z.object({
  id: IdLike,
  shortId: OptionalText,
  title: Text,
  culprit: OptionalText,
  level: OptionalText,
  count: IdLike.nullish(),
  userCount: IdLike.nullish(),
  firstSeen: OptionalText,
  status: OptionalText,
  project: z.object({ id: IdLike, slug: OptionalText, name: OptionalText }),
  web_url: OptionalText,
  permalink: OptionalText,
});

const EventAlertPayload = z.object({
  action: z.string(),
  data: z.object({ event: SentryEvent, triggered_rule: OptionalText }),
});
const ErrorPayload = z.object({ action: z.string(), data: z.object({ error: SentryEvent }) });
const IssuePayload = z.object({ action: z.string(), data: z.object({ issue: SentryIssue }) });
const MetricAlertPayload = z.object({
  action: z.string(),
  data: z.object({
    description_title: OptionalText,
    description_text: OptionalText,
    web_url: OptionalText,
    metric_alert: z.object({
      id: IdLike,
      title: OptionalText,
      date_started: OptionalText,
      projects: z.array(z.string()).max(100).nullish(),
      alert_rule: z.object({
        id: IdLike,
        name: Text,
        environment: OptionalText,
        projects: z.array(z.string()).max(100).nullish(),
        query: OptionalText,
        aggregate: OptionalText,
      }),
    }),
  }),
});

/** One stack frame as a prompt shows it. */
export interface SentryFrame {
  location: string;
  function: string | null;
  inApp: boolean;
  contextLine: string | null;
}

/** Any Sentry delivery, normalized: what conditions test and what the prompt's context block shows. */
export interface SentryAlert {
  resource: SentryResource;
  action: string;
  /** Whether this action asks for work (a new or regressed issue, a firing alert), not a resolution or an assignment. */
  actionable: boolean;
  /** The triage key: one Sentry issue (or one metric alert rule) is one session. */
  subjectKey: string;
  issueId: string | null;
  title: string;
  culprit: string | null;
  level: SentryLevel | null;
  project: { id: string | null; slug: string | null };
  /** Every project a metric alert's rule watches (one entry for issue and event deliveries). */
  projects: string[];
  environment: string | null;
  firstSeen: string | null;
  count: string | null;
  link: string | null;
  rule: string | null;
  exception: string | null;
  /** Most recent first (Sentry lists them oldest first: the crash site is its last frame). */
  frames: SentryFrame[];
}

const ACTIONABLE: Record<SentryResource, readonly string[]> = {
  issue: ["created", "unresolved"],
  event_alert: ["triggered"],
  metric_alert: ["critical", "warning"],
  error: ["created"],
};

/** Parses a verified body for `resource` into a `SentryAlert`; a body not in Sentry's shape is `VALIDATION_FAILED`. */
export function parseSentryPayload(resource: SentryResource, body: unknown): SentryAlert {
  const actionable = (action: string) => ACTIONABLE[resource].includes(action);
  switch (resource) {
    case "event_alert": {
      const payload = parseShape(EventAlertPayload, body, resource);
      return fromEvent(resource, payload.action, actionable(payload.action), payload.data.event, payload.data.triggered_rule ?? null);
    }
    case "error": {
      const payload = parseShape(ErrorPayload, body, resource);
      return fromEvent(resource, payload.action, actionable(payload.action), payload.data.error, null);
    }
    case "issue": {
      const { action, data } = parseShape(IssuePayload, body, resource);
      const issue = data.issue;
      const slug = issue.project.slug ?? null;
      return {
        resource,
        action,
        actionable: actionable(action),
        subjectKey: `sentry:issue:${issue.id}`,
        issueId: issue.id,
        title: issue.shortId ? `${issue.shortId}: ${issue.title}` : issue.title,
        culprit: issue.culprit ?? null,
        level: levelOf(issue.level),
        project: { id: issue.project.id, slug },
        projects: slug ? [slug] : [],
        // An issue spans environments; its webhook names none.
        environment: null,
        firstSeen: issue.firstSeen ?? null,
        count: issue.count == null ? null : `${issue.count} events, ${issue.userCount ?? "?"} users`,
        link: issue.web_url ?? issue.permalink ?? null,
        rule: null,
        exception: null,
        frames: [],
      };
    }
    case "metric_alert": {
      const { action, data } = parseShape(MetricAlertPayload, body, resource);
      const incident = data.metric_alert;
      const rule = incident.alert_rule;
      const projects = rule.projects ?? incident.projects ?? [];
      return {
        resource,
        action,
        actionable: actionable(action),
        subjectKey: `sentry:metric-alert:${rule.id}`,
        issueId: null,
        title: data.description_title ?? incident.title ?? rule.name,
        culprit: data.description_text ?? null,
        // A metric alert has a severity, not a level: critical reads as error.
        level: action === "critical" ? "error" : action === "warning" ? "warning" : null,
        project: { id: null, slug: projects.length === 1 ? (projects[0] ?? null) : null },
        projects,
        environment: rule.environment ?? null,
        firstSeen: incident.date_started ?? null,
        count: null,
        link: data.web_url ?? null,
        rule: rule.query ? `${rule.name} (${rule.aggregate ?? "count()"} where ${rule.query})` : rule.name,
        exception: null,
        frames: [],
      };
    }
  }
}

function fromEvent(resource: SentryResource, action: string, actionable: boolean, event: SentryEvent, rule: string | null): SentryAlert {
  const tags = new Map((event.tags ?? []).map(([key, value]) => [key, value] as const));
  const slug = projectSlugFromUrl(event.url);
  const exception = event.exception?.values?.at(-1);
  return {
    resource,
    action,
    actionable,
    subjectKey: `sentry:issue:${event.issue_id}`,
    issueId: event.issue_id,
    title: event.title,
    culprit: event.culprit ?? null,
    level: levelOf(event.level ?? tags.get("level")),
    project: { id: event.project ?? null, slug },
    projects: slug ? [slug] : [],
    environment: event.environment ?? tags.get("environment") ?? null,
    firstSeen: null,
    count: null,
    link: event.web_url ?? null,
    rule,
    exception: exception ? [exception.type, exception.value].filter(Boolean).join(": ") || null : null,
    frames: (exception?.stacktrace?.frames ?? []).toReversed().map(frameOf),
  };
}

function frameOf(frame: Frame): SentryFrame {
  const file = frame.filename ?? frame.abs_path ?? frame.module ?? "<unknown>";
  const position = [frame.lineno, frame.colno].filter((n) => n != null).join(":");
  return {
    location: position ? `${file}:${position}` : file,
    function: frame.function ?? null,
    inApp: frame.in_app === true,
    contextLine: frame.context_line?.trim() || null,
  };
}

/** An event's API URL names its project: `…/api/0/projects/{org}/{project}/events/{id}/`. */
function projectSlugFromUrl(url: string | null | undefined): string | null {
  const match = url ? /\/api\/0\/projects\/[^/]+\/([^/]+)\/events\//.exec(url) : null;
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

function levelOf(value: string | null | undefined): SentryLevel | null {
  const parsed = SentryLevelSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

function parseShape<T extends z.ZodType>(schema: T, body: unknown, resource: SentryResource): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new LookoutError(
      "VALIDATION_FAILED",
      `The ${resource} payload is not in the shape Sentry documents: ${summarizeIssues(result.error)}`,
    );
  }
  return result.data;
}
