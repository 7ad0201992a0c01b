import { PullRequestStore } from "../../db/pull-requests";
import { SlackClient } from "../../integrations/slack/client";
import { slackConfig } from "../../integrations/slack/config";
import { showStatus } from "../../integrations/slack/conversation";
import { completionMessage } from "../../integrations/slack/messages";
import { SlackStore } from "../../integrations/slack/store";
import { sessionUrl } from "../../scm/pull-requests";
import type { ReportSink } from "../outbox";

/**
 * Reports to Slack threads. While a prompt runs, each step it reaches (cloning, running a tool,
 * waiting in the queue) replaces the thread's status message in place, with the Stop button; the
 * outbox coalesces steps and never sends one after the prompt's final report. A finished prompt
 * updates the thread's status message in place and
 * posts one reply: the agent's summary (trimmed), the files the pull request changes, the pull
 * request and the session link, or the
 * failure and how to retry. The reply is posted once per report: its ts is kept under the outbox's
 * idempotency key, and a report attempted again edits that message instead of posting another. A
 * pull request only updates the status message (the completion reply links it).
 */
export const slackSink: ReportSink = {
  reportsProgress: true,

  async deliver(env, report, idempotencyKey) {
    const { outcome } = report;
    const origin = outcome.origin;
    if (origin.kind !== "slack") return;
    const client = await SlackClient.fromConfig(env, await slackConfig(env));
    const store = new SlackStore(env.DB);
    const key = { teamId: origin.teamId, channelId: origin.channelId, threadTs: origin.threadTs };
    const link = sessionUrl(env, outcome.sessionId);
    const now = Date.now();

    if (outcome.kind === "progress") {
      // The running prompt's step, in place; the Stop button stays while it runs.
      const thread = await store.thread(key);
      const statusTs = await showStatus({ client }, key, thread?.statusTs ?? null, {
        step: outcome.step.text,
        sessionUrl: link,
        stoppableSessionId: outcome.sessionId,
        pullRequestUrl: thread?.pullRequestUrl ?? null,
      });
      if (statusTs && statusTs !== thread?.statusTs) await store.updateThread(key, { statusTs }, now);
      return;
    }

    if (outcome.kind === "pull-request") {
      await store.updateThread(key, { pullRequestUrl: outcome.url }, now);
      const thread = await store.thread(key);
      await showStatus({ client }, key, thread?.statusTs ?? null, {
        step: `Pull request ${outcome.state}: ${outcome.title}`,
        sessionUrl: link,
        stoppableSessionId: null,
        pullRequestUrl: outcome.url,
      });
      return;
    }

    const thread = await store.thread(key);
    const pullRequest = await new PullRequestStore(env.DB).forSession(outcome.sessionId);
    const pullRequestUrl = thread?.pullRequestUrl ?? pullRequest?.url ?? null;
    const step = outcome.status === "completed" ? "Finished" : outcome.status === "stopped" ? "Stopped" : "Failed";
    const statusTs = await showStatus({ client }, key, thread?.statusTs ?? null, {
      step,
      sessionUrl: link,
      stoppableSessionId: null,
      pullRequestUrl,
    });
    if (statusTs && statusTs !== thread?.statusTs) await store.updateThread(key, { statusTs }, now);

    const text = completionMessage({
      status: outcome.status,
      summary: outcome.summary,
      error: outcome.error,
      sessionUrl: link,
      pullRequestUrl,
      filesChanged: pullRequest?.review?.files.map((file) => file.path) ?? [],
    });
    const posted = await store.postedReport(idempotencyKey);
    if (posted && (await client.update(posted.channelId, posted.messageTs, { text }))) return;
    const ts = await client.post(key.channelId, key.threadTs, { text });
    if (ts) await store.recordPostedReport(idempotencyKey, key.channelId, ts, now);
  },
};
