import type { Repository } from "@lookout/protocol";
import type { types } from "@slack/bolt";
import type { SlackThread } from "./store";

/** Block Kit for what Lookout posts: the one status message, the picker, reports, App Home. */

type KnownBlock = types.KnownBlock;

export const ACTION_STOP = "lookout_stop";
export const ACTION_PICK_REPOSITORY = "lookout_pick_repository";
export const ACTION_HOME_DEFAULT_REPOSITORY = "lookout_home_default_repository";
/** App Home's preference block; its id carries the person's DM channel, whose default it sets. */
export const HOME_DEFAULT_BLOCK_PREFIX = "home_default:";

/** A summary longer than this is cut: a thread reply is a digest, the dashboard has the rest. */
export const MAX_SUMMARY_CHARS = 2_500;

export interface StatusView {
  /** The current step, one line: "Starting a session on acme/app", "Working", "Finished". */
  step: string;
  sessionUrl: string | null;
  /** Shows the Stop button (for this session id) while something runs. */
  stoppableSessionId: string | null;
  /** The session's pull request, once it has one. */
  pullRequestUrl?: string | null;
}

/** The one status message a thread has; `chat.update` replaces it in place as the work moves on. */
export function statusMessage(view: StatusView): { text: string; blocks: KnownBlock[] } {
  const pull = view.pullRequestUrl ? ` · <${view.pullRequestUrl}|Pull request>` : "";
  const link = `${pull}${view.sessionUrl ? ` · <${view.sessionUrl}|Watch or steer in Lookout>` : ""}`;
  const blocks: KnownBlock[] = [{ type: "section", text: { type: "mrkdwn", text: `*Lookout:* ${escapeText(view.step)}${link}` } }];
  if (view.stoppableSessionId) {
    blocks.push({
      type: "actions",
      elements: [
        {
          type: "button",
          action_id: ACTION_STOP,
          style: "danger",
          text: { type: "plain_text", text: "Stop" },
          value: view.stoppableSessionId,
        },
      ],
    });
  }
  return { text: `Lookout: ${view.step}`, blocks };
}

/** Asks which repository a request is about; the choice is remembered for the thread. */
export function pickerMessage(candidates: Repository[], timeoutMinutes: number): { text: string; blocks: KnownBlock[] } {
  const text = `Which repository should I work in? Pick one within ${timeoutMinutes} minutes, or mention me again with \`repo:owner/name\`.`;
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text } },
      {
        type: "actions",
        elements: [
          {
            type: "static_select",
            action_id: ACTION_PICK_REPOSITORY,
            placeholder: { type: "plain_text", text: "Repository" },
            options: candidates.map((r) => ({ text: { type: "plain_text", text: r.fullName.slice(0, 75) }, value: r.id })),
          },
        ],
      },
    ],
  };
}

export interface CompletionReport {
  status: "completed" | "failed" | "stopped";
  summary: string | null;
  error: string | null;
  sessionUrl: string;
  pullRequestUrl: string | null;
  /** Paths the session's pull request changes, when its review lists them. */
  filesChanged: string[];
}

/** File paths a completion reply lists before it says "and N more". */
export const MAX_LISTED_FILES = 10;

/** The reply a finished prompt posts in its thread. */
export function completionMessage(report: CompletionReport): string {
  const lines: string[] = [];
  if (report.status === "completed") {
    lines.push(report.summary ? trimSummary(report.summary) : "Done.");
  } else if (report.status === "stopped") {
    lines.push("Stopped before it finished. Reply in this thread to continue.");
  } else {
    lines.push(
      `It failed: ${report.error ?? "no reason given"}.`,
      "Reply in this thread (mentioning me) to retry, or open the session to see what happened.",
    );
  }
  if (report.filesChanged.length > 0) {
    const listed = report.filesChanged.slice(0, MAX_LISTED_FILES).map((path) => `\`${path}\``);
    const more = report.filesChanged.length - listed.length;
    lines.push(`Files changed: ${listed.join(", ")}${more > 0 ? ` and ${more} more` : ""}`);
  }
  if (report.pullRequestUrl) lines.push(`Pull request: ${report.pullRequestUrl}`);
  lines.push(`Session: ${report.sessionUrl}`);
  return lines.join("\n");
}

export function trimSummary(summary: string): string {
  const flat = summary.trim();
  return flat.length > MAX_SUMMARY_CHARS ? `${flat.slice(0, MAX_SUMMARY_CHARS - 1)}…` : flat;
}

export interface HomePreferences {
  /** The person's DM channel with Lookout: its default repository is their default for DMs. */
  dmChannelId: string;
  repositories: Repository[];
  defaultRepositoryId: string | null;
}

/** App Home: the person's recent sessions from Slack, with links, and their default repository for DMs. */
export function homeView(threads: SlackThread[], sessionUrl: (id: string) => string, preferences: HomePreferences | null): types.HomeView {
  const blocks: KnownBlock[] = [{ type: "header", text: { type: "plain_text", text: "Your recent Lookout sessions" } }];
  if (threads.length === 0) {
    blocks.push({ type: "section", text: { type: "mrkdwn", text: "None yet. Mention me in a channel or write to me here to start one." } });
  }
  for (const thread of threads) {
    if (!thread.sessionId) continue;
    const state = thread.pullRequestUrl ? `<${thread.pullRequestUrl}|pull request>` : "no pull request yet";
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: `<${sessionUrl(thread.sessionId)}|Session ${thread.sessionId}> · ${state} · in <#${thread.channelId}>`,
      },
    });
  }
  const options = (preferences?.repositories ?? [])
    .slice(0, 100)
    .map((r) => ({ text: { type: "plain_text" as const, text: r.fullName.slice(0, 75) }, value: r.id }));
  if (preferences && options.length > 0) {
    const current = options.find((option) => option.value === preferences.defaultRepositoryId);
    blocks.push(
      { type: "header", text: { type: "plain_text", text: "Preferences" } },
      {
        type: "section",
        block_id: `${HOME_DEFAULT_BLOCK_PREFIX}${preferences.dmChannelId}`,
        text: { type: "mrkdwn", text: "Repository for requests you send me here, when they name none" },
        accessory: {
          type: "static_select",
          action_id: ACTION_HOME_DEFAULT_REPOSITORY,
          placeholder: { type: "plain_text", text: "Repository" },
          options,
          ...(current ? { initial_option: current } : {}),
        },
      },
    );
  }
  return { type: "home", blocks };
}

/** Slack's mrkdwn treats `&`, `<` and `>` as markup; text from elsewhere is escaped. */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
