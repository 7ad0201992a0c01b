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
      return {
        icon: "⎇",
        label: `GitHub PR ${label}`,
        href: `https://github.com/${known.repository.split("/").map(encodeURIComponent).join("/")}/pull/${known.pullRequest}`,
        title: `Asked on GitHub pull request ${label}`,
      };
    }
    case "linear":
      return { icon: "◇", label: "Linear issue", title: `Linear issue ${known.issueId}` };
  }
}
