import type { Automation } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { ApiError, errorMessage } from "../../api/api-error";
import { automationKeys, useAutomation } from "../../api/automation-queries";
import { useApi } from "../../api/context";
import { useRepositories } from "../../api/queries";
import { newRequestId } from "../../api/request-id";
import { AutomationStatusBadge } from "../../components/automations/badges";
import { RunHistory } from "../../components/automations/run-history";
import { SentryPanel } from "../../components/automations/sentry-panel";
import { WebhookPanel } from "../../components/automations/webhook-panel";
import { ConfirmDialog } from "../../components/dialog";
import { RelativeTime, TimeUntil } from "../../components/relative-time";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";
import { useDocumentTitle } from "../../hooks/use-document-title";
import { dateTime } from "../../lib/format";
import { useMe } from "../../state/auth";
import { IssuedKeyState } from "./automation-form-page";
import { canChangeAutomation, formatInZone, runStatusView, triggerSummary } from "../../state/automations";

/** `/automations/:automationId`: what it does, its trigger's settings, its runs, and pause / resume / run now / delete. */
export function AutomationPage() {
  const { automationId = "" } = useParams();
  const automation = useAutomation(automationId);
  useDocumentTitle(automation.data?.name ?? "Automation");
  if (automation.isLoading) return <LoadingBlock />;
  if (!automation.data) {
    const notFound = automation.error instanceof ApiError && automation.error.status === 404;
    return (
      <div className="page">
        {notFound ? (
          <EmptyState icon="🔎" title="Automation not found">
            <p>It may have been deleted.</p>
            <Link to="/automations" className="btn">
              Back to automations
            </Link>
          </EmptyState>
        ) : (
          <ErrorCallout title="This automation could not be loaded" error={automation.error} onRetry={() => void automation.refetch()} />
        )}
      </div>
    );
  }
  return <AutomationView key={automationId} automation={automation.data} />;
}

function AutomationView({ automation }: { automation: Automation }) {
  const me = useMe();
  const location = useLocation();
  const navigate = useNavigate();
  const repositories = useRepositories();
  const canChange = canChangeAutomation(automation, { userId: me.user.userId, admin: me.role === "admin" });
  const repository = repositories.data?.find((candidate) => candidate.id === automation.repositoryId);
  const trigger = automation.trigger;
  // A key issued on create arrives in the navigation's state: kept for this visit, then dropped
  // from the history entry so a reload or a way back does not show it again.
  const [initialKey] = useState(() => {
    const parsed = IssuedKeyState.safeParse(location.state);
    return parsed.success ? parsed.data.issuedKey : null;
  });
  useEffect(() => {
    if (location.state !== null) void navigate(location.pathname, { replace: true, state: null });
  }, [location.pathname, location.state, navigate]);

  return (
    <div className="page page--narrow automation">
      <div className="page__header">
        <div className="row" style={{ minWidth: 0 }}>
          <Link to="/automations" className="btn btn--ghost btn--sm btn--icon" aria-label="Back to automations" title="Back to automations">
            ←
          </Link>
          <h1 className="truncate">{automation.name}</h1>
          <AutomationStatusBadge automation={automation} />
        </div>
        <AutomationActions automation={automation} canChange={canChange} />
      </div>

      {!automation.enabled && (
        <div className="callout callout--warning" role="status">
          <span aria-hidden>⏸</span>
          <div className="callout__body">
            <div className="callout__title">Paused</div>
            <div>{automation.pausedReason ?? "It does not run until resumed."}</div>
          </div>
        </div>
      )}

      <section className="card" aria-label="About this automation">
        <div className="card__body">
          <dl className="kv">
            <dt>Trigger</dt>
            <dd className="mono">{triggerSummary(trigger)}</dd>
            {trigger.kind === "cron" && (
              <>
                <dt>Next run</dt>
                <dd>
                  {automation.nextRunAt !== null ? (
                    <>
                      {formatInZone(automation.nextRunAt, trigger.timeZone)} (<TimeUntil at={automation.nextRunAt} />)
                    </>
                  ) : (
                    "not scheduled while paused"
                  )}
                </dd>
              </>
            )}
            <dt>Repository</dt>
            <dd className="mono">{repository?.fullName ?? automation.repositoryId}</dd>
            <dt>Base branch</dt>
            <dd className="mono">{automation.baseBranch ?? repository?.defaultBranch ?? "the default branch"}</dd>
            <dt>Model</dt>
            <dd className="mono">
              {automation.model ?? "the default model"}
              {automation.reasoningEffort ? ` · ${automation.reasoningEffort} effort` : ""}
            </dd>
            <dt>Same subject</dt>
            <dd>{automation.triage === "follow-up" ? "joins its session as a follow-up" : "recorded as a duplicate"}</dd>
            <dt>Runs at once</dt>
            <dd>{automation.maxConcurrentRuns}</dd>
            {automation.consecutiveFailures > 0 && (
              <>
                <dt>Failures in a row</dt>
                <dd>{automation.consecutiveFailures} (three pause it)</dd>
              </>
            )}
            <dt>Owner</dt>
            <dd>{automation.ownerName}</dd>
            <dt>Created</dt>
            <dd title={dateTime(automation.createdAt)}>
              <RelativeTime at={automation.createdAt} />
            </dd>
          </dl>
          <h3 className="details__heading">Instructions</h3>
          <p className="automation__instructions">{automation.instructions}</p>
        </div>
      </section>

      {(trigger.kind === "webhook" || trigger.kind === "sentry") && (
        <section className="card" aria-label={trigger.kind === "webhook" ? "Webhook" : "Sentry"}>
          <div className="card__body stack">
            <h2>{trigger.kind === "webhook" ? "Webhook" : "Sentry"}</h2>
            {trigger.kind === "webhook" ? (
              <WebhookPanel automationId={automation.id} canChange={canChange} initialKey={initialKey} />
            ) : (
              <SentryPanel automationId={automation.id} canChange={canChange} />
            )}
          </div>
        </section>
      )}

      <section className="stack" aria-label="Run history">
        <h2>Runs</h2>
        <RunHistory automationId={automation.id} />
      </section>
    </div>
  );
}

function AutomationActions({ automation, canChange }: { automation: Automation; canChange: boolean }) {
  const api = useApi();
  const notify = useToast();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [busy, setBusy] = useState<"pause" | "resume" | "run" | "delete" | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  // One "Run now" per press: a retried request with the same id is the same run.
  const [runRequestId, setRunRequestId] = useState(newRequestId);
  if (!canChange) return null;

  const act = async (action: "pause" | "resume" | "run" | "delete") => {
    setBusy(action);
    try {
      if (action === "pause") await api.automations.pause(automation.id);
      if (action === "resume") await api.automations.resume(automation.id);
      if (action === "run") {
        const result = await api.automations.runNow(automation.id, runRequestId);
        setRunRequestId(newRequestId());
        const status = result.run ? runStatusView(result.run.status).label : result.status;
        notify(
          result.reason ? `Run ${status.toLowerCase()}: ${result.reason}` : `Run ${status.toLowerCase()}`,
          result.run ? "success" : "error",
        );
      }
      if (action === "delete") {
        setConfirmDelete(false);
        await api.automations.delete(automation.id);
        notify(`Deleted ${automation.name}`, "success");
        queryClient.removeQueries({ queryKey: automationKeys.one(automation.id) });
        void queryClient.invalidateQueries({ queryKey: automationKeys.list });
        void navigate("/automations");
        return;
      }
      void queryClient.invalidateQueries({ queryKey: automationKeys.all });
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="row row--wrap">
      {automation.enabled ? (
        <button type="button" className="btn btn--sm" disabled={busy !== null} onClick={() => void act("pause")}>
          {busy === "pause" ? "Pausing…" : "Pause"}
        </button>
      ) : (
        <button type="button" className="btn btn--sm" disabled={busy !== null} onClick={() => void act("resume")}>
          {busy === "resume" ? "Resuming…" : "Resume"}
        </button>
      )}
      <button
        type="button"
        className="btn btn--primary btn--sm"
        disabled={busy !== null || !automation.enabled}
        title={automation.enabled ? undefined : "Resume it to run it"}
        onClick={() => void act("run")}
      >
        {busy === "run" ? "Starting…" : "▶ Run now"}
      </button>
      <Link to={`/automations/${automation.id}/edit`} className="btn btn--sm">
        Edit
      </Link>
      <button type="button" className="btn btn--ghost btn--sm" disabled={busy !== null} onClick={() => setConfirmDelete(true)}>
        Delete
      </button>
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${automation.name}?`}
        message="It stops running, and its webhook or Sentry endpoint stops answering. Sessions it started are kept."
        confirmLabel="Delete"
        danger
        busy={busy === "delete"}
        onConfirm={() => void act("delete")}
        onCancel={() => setConfirmDelete(false)}
      />
    </div>
  );
}
