import type { AutomationRun } from "@lookout/protocol";
import { useMemo } from "react";
import { Link } from "react-router";
import { useAutomationRuns } from "../../api/automation-queries";
import { dateTime } from "../../lib/format";
import { runTriggerLabel } from "../../state/automations";
import { RelativeTime } from "../relative-time";
import { EmptyState, ErrorCallout, LoadingBlock } from "../states";
import { RunStatusBadge } from "./badges";

/** Every run, newest first: status, why it was skipped or failed, and the session it ran in. */
export function RunHistory({ automationId }: { automationId: string }) {
  const runs = useAutomationRuns(automationId);
  const rows = useMemo(() => dedupe(runs.data?.pages.flatMap((page) => page.runs) ?? []), [runs.data]);
  if (runs.isLoading) return <LoadingBlock label="Loading runs…" />;
  if (runs.isError && !runs.data)
    return <ErrorCallout title="Runs could not be loaded" error={runs.error} onRetry={() => void runs.refetch()} />;
  if (rows.length === 0) {
    return (
      <EmptyState icon="◷" title="No runs yet">
        <p>Runs appear here as the trigger fires, or when you press “Run now”.</p>
      </EmptyState>
    );
  }
  return (
    <>
      <ul className="card list" aria-label="Runs">
        {rows.map((run) => (
          <RunRow key={run.id} run={run} />
        ))}
      </ul>
      {runs.hasNextPage && (
        <div className="session-list__footer">
          <span />
          <button type="button" className="btn" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
            {runs.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </>
  );
}

function RunRow({ run }: { run: AutomationRun }) {
  return (
    <li className="settings-row run-row" data-run={run.id}>
      <span className="run-row__status">
        <RunStatusBadge status={run.status} />
      </span>
      <div className="grow stack" style={{ gap: 2, minWidth: 0 }}>
        <div className="row row--wrap" style={{ gap: 6 }}>
          <span>{runTriggerLabel(run.trigger)}</span>
          {run.scheduledFor !== null && <span className="faint">for {dateTime(run.scheduledFor)}</span>}
          {run.followUp && <span className="badge badge--outline">follow-up</span>}
        </div>
        {run.reason && <div className="run-row__reason">{run.reason}</div>}
        {run.reportError && (
          <div className="run-row__reason run-row__reason--error">
            Report failed: <span>{run.reportError}</span>
          </div>
        )}
      </div>
      {run.sessionId ? (
        <Link to={`/sessions/${run.sessionId}`} className="btn btn--ghost btn--sm">
          Open session
        </Link>
      ) : null}
      <span className="faint nowrap">
        <RelativeTime at={run.createdAt} />
      </span>
    </li>
  );
}

/** Pages can overlap while new runs arrive between fetches; show each run once. */
function dedupe(runs: AutomationRun[]): AutomationRun[] {
  const seen = new Set<string>();
  return runs.filter((run) => (seen.has(run.id) ? false : (seen.add(run.id), true)));
}
