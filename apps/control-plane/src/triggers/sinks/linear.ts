import { PullRequestStore } from "../../db/pull-requests";
import { OutboxReportStore } from "../../db/outbox-reports";
import { LinearAgent } from "../../integrations/linear/client";
import { dashboardUrl } from "../../integrations/linear/agent";
import { actionActivity, actionKey, toolStepsOf } from "../../integrations/linear/progress";
import { LinearStore } from "../../integrations/linear/store";
import { progressKeyOf } from "../outbox-keys";
import type { ReportSink } from "../outbox";

/** Steps before the agent works, shown as a passing (ephemeral) `thought` that the next activity replaces. */
const WAITING_STEPS = new Set(["queued", "starting", "cloning", "syncing"]);

/**
 * Reports to Linear agent sessions. While a prompt runs, each new tool step becomes an `action`
 * activity (consecutive calls of one tool are one step, at most `MAX_PROGRESS_ACTIONS` a prompt),
 * and waiting, starting and cloning show as an ephemeral `thought`. A settled prompt posts the tool
 * steps its progress reports did not, then one `response` with the agent's summary and the pull
 * request, or an `error`. A pull request opened or updated is an `action` linking it. Every
 * activity's id derives from a stable key (a tool step's is the same while the prompt runs and after
 * it settled), so a report retried after a partial send posts each activity once.
 */
export const linearSink: ReportSink = {
  reportsProgress: true,

  async deliver(env, report, idempotencyKey) {
    const { outcome } = report;
    if (outcome.origin.kind !== "linear") return;
    const { agentSessionId } = outcome.origin;
    const record = await new LinearStore(env.DB).agentSession(agentSessionId);
    if (!record) throw new Error(`Linear agent session ${agentSessionId} has no record, so its workspace is unknown`);
    const linear = await LinearAgent.forOrganization(env, record.organizationId);

    if (outcome.kind === "pull-request") {
      await linear.activity(agentSessionId, idempotencyKey, {
        type: "action",
        action: outcome.state === "open" ? "Opened pull request" : `Pull request ${outcome.state}`,
        parameter: `${outcome.title} — ${outcome.url}`,
      });
      return;
    }

    const { sessionId, promptId } = outcome;
    if (outcome.kind === "progress") {
      if (WAITING_STEPS.has(outcome.step.kind)) {
        await linear.activity(
          agentSessionId,
          `${sessionId}:${promptId}:thought:${outcome.step.kind}`,
          { type: "thought", body: outcome.step.text },
          { ephemeral: true },
        );
      }
      const posted = report.previouslyDelivered?.kind === "progress" ? report.previouslyDelivered.actions.length : 0;
      for (const [index, action] of outcome.actions.entries()) {
        if (index >= posted) await linear.activity(agentSessionId, actionKey(sessionId, promptId, index), actionActivity(action));
      }
      return;
    }

    // The tool steps the prompt's progress reports did not post (all of them when none was delivered).
    const progress = await new OutboxReportStore(env.DB).get(progressKeyOf(sessionId, promptId));
    const posted = progress?.previouslyDelivered?.kind === "progress" ? progress.previouslyDelivered.actions.length : 0;
    for (const [index, action] of (await toolStepsOf(env, sessionId, promptId)).entries()) {
      if (index >= posted) await linear.activity(agentSessionId, actionKey(sessionId, promptId, index), actionActivity(action));
    }

    const link = `[Open the session in Lookout](${dashboardUrl(env, sessionId)})`;
    if (outcome.status === "failed") {
      await linear.activity(agentSessionId, `${idempotencyKey}:final`, {
        type: "error",
        body: `The session failed: ${outcome.error ?? "no reason given"}.\n\n${link}`,
      });
      return;
    }
    const pullRequest = await new PullRequestStore(env.DB).forSession(sessionId);
    const summary = outcome.status === "stopped" ? "Stopped as asked." : outcome.summary?.trim() || "Done.";
    const parts = [summary];
    if (pullRequest?.url) parts.push(`Pull request: [${pullRequest.title}](${pullRequest.url})`);
    parts.push(link);
    await linear.activity(agentSessionId, `${idempotencyKey}:final`, { type: "response", body: parts.join("\n\n") });
  },
};
