import { GithubTriggerStore } from "../../db/github-triggers";
import { mentionApi } from "../../integrations/github/api";
import { settledReply } from "../../integrations/github/reply";
import { log } from "../../log";
import { githubClient } from "../../scm/github/settings";
import { sessionUrl } from "../../scm/pull-requests";
import type { ReportSink } from "../outbox";

/**
 * Reports to pull requests that mentioned Lookout: the reply comment posted when the session
 * started is edited with how the prompt settled, its summary, and the pull request the agent
 * opened. The reply is rendered from what is stored and written with an edit, so an attempt
 * repeated after a lost answer writes the same text again and posts nothing new.
 */
export const githubSink: ReportSink = {
  async deliver(env, report) {
    const { outcome } = report;
    if (outcome.origin.kind !== "github") return;
    const store = new GithubTriggerStore(env.DB);
    const reply = await store.reply(outcome.sessionId);
    // The reply is recorded right after the session starts; until then, retry.
    if (!reply) throw new Error(`session ${outcome.sessionId} has no GitHub reply recorded yet`);
    const now = Date.now();
    if (outcome.kind === "prompt.finished") {
      await store.updateReply(outcome.sessionId, { status: outcome.status, summary: outcome.summary ?? outcome.error }, now);
    } else {
      await store.updateReply(outcome.sessionId, { pullRequestUrl: outcome.url }, now);
    }
    const current = await store.reply(outcome.sessionId);
    if (!current) return;
    const [owner = "", name = ""] = current.repository.split("/");
    await mentionApi(githubClient(env)).editComment(
      owner,
      name,
      current.commentKind,
      current.commentId,
      settledReply(current, sessionUrl(env, outcome.sessionId)),
    );
  },

  gaveUp(_env, report, error) {
    // The outbox already marks the session's report as failed, which the dashboard shows.
    log.warn("a GitHub reply could not be updated", { sessionId: report.outcome.sessionId, error });
    return Promise.resolve();
  },
};
