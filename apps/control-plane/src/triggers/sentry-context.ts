import type { SentryConditions } from "@lookout/protocol";
import type { SentryAlert } from "./sentry-payload";

/** Stack frames a prompt shows: the crash site and the calls that led to it. */
export const SENTRY_PROMPT_FRAMES = 8;
/** Longest single field in the context block; titles and context lines are the sender's text. */
const MAX_FIELD_CHARS = 500;

export type SentryMatch = { matched: true } | { matched: false; reason: string };

/**
 * Whether an alert passes an automation's conditions. An action that asks for no work (resolved,
 * assigned, archived) never passes; each non-empty list must contain the alert's value, and an
 * alert without the value (an `issue` webhook has no environment) fails that list.
 */
export function matchSentryConditions(alert: SentryAlert, conditions: SentryConditions): SentryMatch {
  if (!alert.actionable) return { matched: false, reason: `Sentry ${alert.resource} "${alert.action}" asks for no work` };
  if (conditions.resources.length > 0 && !conditions.resources.includes(alert.resource)) {
    return { matched: false, reason: `resource ${alert.resource} is not one of ${conditions.resources.join(", ")}` };
  }
  if (conditions.projects.length > 0) {
    const names = [...new Set([alert.project.slug, alert.project.id, ...alert.projects])].filter((name): name is string => name !== null);
    if (!names.some((name) => conditions.projects.includes(name))) {
      return { matched: false, reason: `project ${names.join("/") || "(none named)"} is not one of ${conditions.projects.join(", ")}` };
    }
  }
  if (conditions.environments.length > 0 && (alert.environment === null || !conditions.environments.includes(alert.environment))) {
    return {
      matched: false,
      reason: `environment ${alert.environment ?? "(none named)"} is not one of ${conditions.environments.join(", ")}`,
    };
  }
  if (conditions.levels.length > 0 && (alert.level === null || !conditions.levels.includes(alert.level))) {
    return { matched: false, reason: `level ${alert.level ?? "(none named)"} is not one of ${conditions.levels.join(", ")}` };
  }
  return { matched: true };
}

/**
 * The alert as the prompt's context block: title, culprit, level, project, environment, first
 * seen, count, link and the top stack frames, one labelled line each. Every value is the sender's
 * text, so the block belongs inside the prompt's untrusted fence, never among its instructions.
 */
export function sentryContextBlock(alert: SentryAlert): string {
  const project = [alert.project.slug, alert.project.id === null ? null : `id ${alert.project.id}`].filter(Boolean).join(", ");
  const lines = [
    `Sentry ${alert.resource} (${alert.action})${alert.rule ? ` from rule: ${clip(alert.rule)}` : ""}`,
    field("Title", alert.title),
    field("Culprit", alert.culprit),
    field("Level", alert.level),
    field("Project", project || alert.projects.join(", ") || null),
    field("Environment", alert.environment),
    field("First seen", alert.firstSeen),
    field("Count", alert.count),
    field("Issue", alert.issueId),
    field("Link", alert.link),
    field("Exception", alert.exception),
  ].filter((line): line is string => line !== null);
  const frames = alert.frames.slice(0, SENTRY_PROMPT_FRAMES);
  if (frames.length > 0) {
    lines.push(`Top stack frames (most recent call first, ${frames.length} of ${alert.frames.length}):`);
    for (const [index, frame] of frames.entries()) {
      const where = `${frame.function ? `${clip(frame.function)} at ` : ""}${clip(frame.location)}${frame.inApp ? " [in app]" : ""}`;
      lines.push(`  ${index + 1}. ${where}`);
      if (frame.contextLine) lines.push(`       ${clip(frame.contextLine)}`);
    }
  } else if (alert.resource === "issue") {
    lines.push("Stack frames: not in this webhook (Sentry's issue webhooks carry none); open the link for the latest event.");
  }
  return lines.join("\n");
}

function field(label: string, value: string | null): string | null {
  return value === null || value === "" ? null : `${label}: ${clip(value)}`;
}

/** One line, bounded: a newline in a title cannot forge another labelled field. */
function clip(value: string): string {
  const flat = value.replace(/\s+/g, " ").trim();
  return flat.length > MAX_FIELD_CHARS ? `${flat.slice(0, MAX_FIELD_CHARS - 1)}…` : flat;
}
