import type { Automation } from "@lookout/protocol";
import { Link } from "react-router";
import { useAutomations, useLastRun } from "../api/automation-queries";
import { AutomationStatusBadge, RunStatusBadge } from "../components/automations/badges";
import { RelativeTime, TimeUntil } from "../components/relative-time";
import { EmptyState, ErrorCallout, Skeleton, Spinner } from "../components/states";
import { useDocumentTitle } from "../hooks/use-document-title";
import { triggerIcon, triggerKindLabel } from "../state/automations";

/** Every automation: whether it runs, what starts it, when it runs next and how its last run went. */
export function AutomationsPage() {
  useDocumentTitle("Automations");
  const automations = useAutomations();
  const list = automations.data ?? [];

  return (
    <div className="page">
      <div className="page__header">
        <div className="row">
          <h1>Automations</h1>
          {automations.isFetching && !automations.isLoading && <Spinner label="Refreshing" />}
        </div>
        <Link to="/automations/new" className="btn btn--primary">
          New automation
        </Link>
      </div>
      {automations.isError && !automations.data ? (
        <ErrorCallout title="Automations could not be loaded" error={automations.error} onRetry={() => void automations.refetch()} />
      ) : automations.isLoading ? (
        <div className="card list" aria-busy="true">
          {[0, 1, 2].map((index) => (
            <div key={index} className="settings-row">
              <Skeleton width="40%" />
            </div>
          ))}
        </div>
      ) : list.length === 0 ? (
        <EmptyState icon="◷" title="No automations yet">
          <p>Let work start on its own: on a schedule, from a webhook, or from a Sentry alert.</p>
          <Link to="/automations/new" className="btn btn--primary">
            Create an automation
          </Link>
        </EmptyState>
      ) : (
        <ul className="card list" aria-label="Automations">
          {list.map((automation) => (
            <AutomationRow key={automation.id} automation={automation} />
          ))}
        </ul>
      )}
    </div>
  );
}

function AutomationRow({ automation }: { automation: Automation }) {
  const trigger = automation.trigger;
  return (
    <li>
      <Link to={`/automations/${automation.id}`} className="automation-row" data-automation-row={automation.name}>
        <div className="automation-row__status">
          <AutomationStatusBadge automation={automation} />
        </div>
        <div className="automation-row__main">
          <div className="automation-row__title truncate">{automation.name}</div>
          <div className="automation-row__meta">
            <span aria-hidden>{triggerIcon(trigger.kind)}</span>
            <span>{triggerKindLabel(trigger.kind)}</span>
            {trigger.kind === "cron" && <span className="mono truncate">{trigger.expression}</span>}
            {!automation.enabled && automation.pausedReason && (
              <>
                <span aria-hidden>·</span>
                <span className="truncate automation-row__paused">{automation.pausedReason}</span>
              </>
            )}
          </div>
        </div>
        <div className="automation-row__side">
          <span className="faint">
            {automation.nextRunAt !== null ? (
              <>
                next <TimeUntil at={automation.nextRunAt} />
              </>
            ) : trigger.kind === "cron" ? (
              "not scheduled"
            ) : (
              ""
            )}
          </span>
          <LastResult automationId={automation.id} />
        </div>
      </Link>
    </li>
  );
}

function LastResult({ automationId }: { automationId: string }) {
  const last = useLastRun(automationId);
  if (last.isLoading) return <Skeleton width={80} height={18} />;
  if (!last.data) return <span className="faint">never run</span>;
  return (
    <span className="row automation-row__last" style={{ gap: 6 }} title={last.data.reason ?? undefined}>
      <RunStatusBadge status={last.data.status} />
      <span className="faint">
        <RelativeTime at={last.data.createdAt} />
      </span>
    </span>
  );
}
