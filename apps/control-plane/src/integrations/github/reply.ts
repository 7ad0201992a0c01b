import type { GithubReply } from "../../db/github-triggers";

/**
 * The reply comment's text: posted when a mention's session starts, edited by the GitHub sink with
 * the result. Rendered from what is stored, so editing it again writes the same text.
 */

const MAX_COMMENT = 60_000;

export function startedReply(sessionLink: string, fork: boolean): string {
  const lines = [`👀 Lookout is working on this: [open the session](${sessionLink}).`];
  if (fork) lines.push("", "This pull request comes from a fork, so Lookout will answer with a suggested patch instead of pushing.");
  return lines.join("\n");
}

export function settledReply(reply: GithubReply, sessionLink: string): string {
  const head =
    reply.status === "completed"
      ? `✅ Lookout finished: [open the session](${sessionLink}).`
      : reply.status === "stopped"
        ? `⏹️ The Lookout session was stopped before it finished: [open the session](${sessionLink}).`
        : reply.status === "failed"
          ? `❌ The Lookout session failed: [open the session](${sessionLink}).`
          : `👀 Lookout is working on this: [open the session](${sessionLink}).`;
  const lines = [head];
  if (reply.pullRequestUrl) lines.push("", `Changes: ${reply.pullRequestUrl}`);
  if (reply.summary) lines.push("", reply.summary.trim());
  if (reply.fork && !reply.pullRequestUrl) lines.push("", "_This pull request comes from a fork: nothing was pushed._");
  const text = lines.join("\n");
  return text.length > MAX_COMMENT ? `${text.slice(0, MAX_COMMENT)}\n\n[… shortened; the whole answer is in the session]` : text;
}
