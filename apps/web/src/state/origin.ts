import type { SessionOrigin } from "@lookout/protocol";

/** How a session's origin shows: an icon, a label, and where it links (inside the app or out). */
export interface OriginView {
  icon: string;
  label: string;
  /** A dashboard path (`to`) or an outside address (`href`), when the origin has a page. */
  to?: string;
  href?: string;
  /** A longer description for the tooltip. */
  title: string;
}

const AUTOMATION_TRIGGER: Record<Extract<SessionOrigin, { kind: "automation" }>["trigger"], string> = {
  cron: "on its schedule",
  webhook: "by a webhook",
  sentry: "by a Sentry alert",
  manual: "by “Run now”",
};

/**
 * What started a session. An automation is named when its name is known (the automations list),
 * else called "Automation"; a session without an origin (an older server) reads as the API.
 */
export function describeOrigin(origin: SessionOrigin | undefined, automationName?: string): OriginView {
  const known = origin ?? { kind: "api" };
  switch (known.kind) {
    case "dashboard":
      return { icon: "◉", label: "Dashboard", title: "Started from the dashboard" };
    case "api":
      return { icon: "⌁", label: "API", title: "Started through the REST API" };
    case "automation": {
      const label = automationName ? `Automation “${automationName}”` : "Automation";
      return {
        icon: "◷",
        label,
        to: `/automations/${encodeURIComponent(known.automationId)}`,
        title: `${label}, started ${AUTOMATION_TRIGGER[known.trigger]}`,
      };
    }
    case "slack":
      return {
        icon: "#",
        label: "Slack thread",
        // Slack's web client opens the thread from the ids alone (no workspace domain needed).
        href: `https://app.slack.com/client/${[known.teamId, known.channelId, "thread", `${known.channelId}-${known.threadTs}`].map(encodeURIComponent).join("/")}`,
        title: `Slack thread in channel ${known.channelId}`,
      };
    case "github": {
      const label = `${known.repository}#${known.pullRequest}`;
      const href = githubPullRequestHref(known);
      return {
        icon: "⎇",
        label: `GitHub PR ${label}`,
        ...(href ? { href } : {}),
        title: `Asked on GitHub pull request ${label}`,
      };
    }
    case "linear":
      return { icon: "◇", label: "Linear issue", title: `Linear issue ${known.issueId}` };
  }
}

/**
 * Where a GitHub origin links: the pull request's page the server recorded (on its configured GitHub,
 * an Enterprise Server's included) when it is an http(s) address, else nothing. An origin recorded
 * before servers kept that address links to github.com.
 */
function githubPullRequestHref(origin: Extract<SessionOrigin, { kind: "github" }>): string | undefined {
  if (origin.url === undefined) {
    return `https://github.com/${origin.repository.split("/").map(encodeURIComponent).join("/")}/pull/${origin.pullRequest}`;
  }
  try {
    const url = new URL(origin.url);
    return url.protocol === "https:" || url.protocol === "http:" ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}
