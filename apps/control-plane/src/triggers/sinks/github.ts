import { GithubTriggerStore } from "../../db/github-triggers";
import { mentionApi } from "../../integrations/github/api";
import { settledReply } from "../../integrations/github/reply";
import { promptDiff, withSuggestedPatch } from "../../integrations/github/suggested-patch";
import { log } from "../../log";
import { githubClient } from "../../scm/github/settings";
import { sessionUrl } from "../../scm/pull-requests";
import type { OutboxReport } from "../../db/outbox-reports";
import type { Env } from "../../env";
import { parseReview, reviewMarker, withInlineComments } from "../../integrations/github/review-report";
import { LookoutError } from "@lookout/protocol";
import type { ReportSink } from "../outbox";

/**
 * Reports to pull requests that mentioned Lookout: the reply comment posted when the session
 * started is edited with how the prompt settled, its summary, and the pull request the agent
 * opened (a pull request opened while the first prompt runs is only stored, so that prompt's
 * settling is one edit carrying both); a fork's reply gets the prompt's change as a suggested
 * patch. The reply is rendered from what is stored and written with an edit, so an attempt
 * repeated after a lost answer writes the same text again and posts nothing new.
 */
export const githubSink: ReportSink = {
  async deliver(env, report, idempotencyKey) {
    const { outcome } = report;
    // The reply is edited when the prompt settles; a running prompt's steps are not shown on GitHub
    // (this sink does not set `reportsProgress`, so the outbox never queues them).
    if (outcome.origin.kind !== "github" || outcome.kind === "progress") return;
    if (outcome.origin.review) return postReview(env, report, idempotencyKey);
    const store = new GithubTriggerStore(env.DB);
    const reply = await store.reply(outcome.sessionId);
    // The reply is recorded right after the session starts; until then, retry.
    if (!reply) throw new Error(`session ${outcome.sessionId} has no GitHub reply recorded yet`);
    const now = Date.now();
    if (outcome.kind === "prompt.finished") {
      // A fork's session pushes nothing: the change it made goes into the reply as a patch.
      const diff =
        outcome.origin.fork && outcome.status === "completed" ? await promptDiff(env, outcome.sessionId, outcome.promptId) : null;
      await store.updateReply(
        outcome.sessionId,
        { status: outcome.status, summary: withSuggestedPatch(outcome.summary ?? outcome.error, diff) },
        now,
      );
    } else {
      await store.updateReply(outcome.sessionId, { pullRequestUrl: outcome.url }, now);
      // Opened while the first prompt still runs: the reply is edited once, when it settles, with the link.
      if (reply.status === "working") return;
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

/**
 * An auto-review's answer, posted once as a review with line comments. The review carries a marker
 * naming the report, and the sink looks for it first, so an attempt repeated after a lost answer
 * posts nothing new. A session that failed or was stopped posts nothing.
 */
async function postReview(env: Env, report: OutboxReport, idempotencyKey: string): Promise<void> {
  const { outcome } = report;
  if (outcome.origin.kind !== "github" || outcome.kind !== "prompt.finished" || outcome.status !== "completed") return;
  const [owner = "", name = ""] = outcome.origin.repository.split("/");
  const api = mentionApi(githubClient(env));
  const marker = reviewMarker(idempotencyKey);
  if ((await api.reviewBodies(owner, name, outcome.origin.pullRequest)).some((body) => body.includes(marker))) return;
  const parsed = parseReview(outcome.summary ?? "");
  const link = `[Lookout session](${sessionUrl(env, outcome.sessionId)})`;
  const body = (text: string) => `${text || "Lookout reviewed this pull request."}\n\n${link}\n${marker}`;
  try {
    await api.postReview(owner, name, outcome.origin.pullRequest, { body: body(parsed.body), comments: parsed.comments });
  } catch (error) {
    // GitHub refuses the whole review when a comment names a line outside the diff: list them instead.
    if (!(error instanceof LookoutError && error.code === "VALIDATION_FAILED") || parsed.comments.length === 0) throw error;
    await api.postReview(owner, name, outcome.origin.pullRequest, {
      body: body(withInlineComments(parsed.body, parsed.comments)),
      comments: [],
    });
  }
}
