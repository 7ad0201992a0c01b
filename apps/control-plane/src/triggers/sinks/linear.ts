import { PullRequestStore } from "../../db/pull-requests";
import { LinearAgent } from "../../integrations/linear/client";
import { dashboardUrl } from "../../integrations/linear/agent";
import { summariseActions, toolCallsOf } from "../../integrations/linear/progress";
import { LinearStore } from "../../integrations/linear/store";
import type { ReportSink } from "../outbox";

/**
 * Reports to Linear agent sessions. A settled prompt becomes its tool calls summarised as `action`
 * activities (read from the session's event log when the report is sent), then one `response` with
 * the agent's summary and the pull request, or an `error`. A pull request opened or updated is an
 * `action` linking it. Every activity's id derives from the report's idempotency key, so a report
 * retried after a partial send posts each activity once.
 */
export const linearSink: ReportSink = {
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

    const actions = summariseActions(await toolCallsOf(env, outcome.sessionId, outcome.promptId));
    for (const [index, action] of actions.entries()) await linear.activity(agentSessionId, `${idempotencyKey}:action:${index}`, action);

    const link = `[Open the session in Lookout](${dashboardUrl(env, outcome.sessionId)})`;
    if (outcome.status === "failed") {
      await linear.activity(agentSessionId, `${idempotencyKey}:final`, {
        type: "error",
        body: `The session failed: ${outcome.error ?? "no reason given"}.\n\n${link}`,
      });
      return;
    }
    const pullRequest = await new PullRequestStore(env.DB).forSession(outcome.sessionId);
    const summary = outcome.status === "stopped" ? "Stopped as asked." : outcome.summary?.trim() || "Done.";
    const parts = [summary];
    if (pullRequest?.url) parts.push(`Pull request: [${pullRequest.title}](${pullRequest.url})`);
    parts.push(link);
    await linear.activity(agentSessionId, `${idempotencyKey}:final`, { type: "response", body: parts.join("\n\n") });
  },
};
