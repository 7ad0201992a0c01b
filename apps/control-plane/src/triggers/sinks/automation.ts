import { TriggerRunStore } from "../../db/trigger-runs";
import type { ReportSink } from "../outbox";
import { settleRun } from "../runs";

/**
 * Reports to automation runs: a settled prompt settles the run that sent it (succeeded, or failed
 * with the session's error), which feeds auto-pause. Settling is compare-and-set on the run's
 * status, so a report delivered twice changes the run once. A prompt no run sent (someone typed
 * into the automation's session) and pull-request reports leave runs as they are.
 */
export const automationSink: ReportSink = {
  async deliver(env, report) {
    const { outcome } = report;
    if (outcome.kind !== "prompt.finished") return;
    const run = await new TriggerRunStore(env.DB).forPrompt(outcome.sessionId, outcome.promptId);
    if (!run) return;
    const now = Date.now();
    if (outcome.status === "completed") {
      await settleRun(env.DB, run, { status: "succeeded", reason: null, countsAsFailure: false }, now);
    } else if (outcome.status === "stopped") {
      await settleRun(env.DB, run, { status: "failed", reason: "stopped before it finished", countsAsFailure: false }, now);
    } else {
      await settleRun(
        env.DB,
        run,
        { status: "failed", reason: `the session failed: ${outcome.error ?? "no error given"}`, countsAsFailure: true },
        now,
      );
    }
  },

  async gaveUp(env, report, error) {
    const { outcome } = report;
    if (outcome.kind !== "prompt.finished") return;
    const runs = new TriggerRunStore(env.DB);
    const run = await runs.forPrompt(outcome.sessionId, outcome.promptId);
    if (run) await runs.setReportError(run.id, error);
  },
};
