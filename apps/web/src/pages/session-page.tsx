import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { ApiError, errorMessage } from "../api/api-error";
import { useApi } from "../api/context";
import { queryKeys, useModels, useRepositories } from "../api/queries";
import { EmptyState, ErrorCallout, LoadingBlock } from "../components/states";
import { StatusBadge } from "../components/status-badge";
import { useToast } from "../components/toasts";
import { CopyButton } from "../components/copy-button";
import { OriginBadge } from "../components/origin-badge";
import { ConfirmDialog } from "../components/dialog";
import { ChangesPanel } from "../components/session/changes-panel";
import { ConnectionIndicator } from "../components/session/connection-indicator";
import { DetailsPanel } from "../components/session/details-panel";
import { PresenceBar, TypingIndicator } from "../components/session/presence-bar";
import { PromptBox, type FollowUp } from "../components/session/prompt-box";
import { PullRequestPanel, PullRequestStateBadge, pullRequestStateOf } from "../components/session/pull-request-panel";
import { PushApprovalCard, type PushDecision } from "../components/session/push-approval";
import { QueuePanel } from "../components/session/queue-panel";
import { SessionTitle } from "../components/session/session-title";
import { TimelineView } from "../components/session/timeline-view";
import { usePresenceSignal, useSessionLive, useTypingSignal } from "../hooks/use-session-live";
import { useDocumentTitle } from "../hooks/use-document-title";
import { cost } from "../lib/format";
import { useMe } from "../state/auth";
import { buildTimeline, deriveChanges, typingNames, type PromptBlock } from "../state/derive";
import { currentRole } from "../state/session-view";
import { orderedEvents } from "../state/timeline";

type Tab = "timeline" | "changes" | "pull-request" | "details";

const TABS: readonly Tab[] = ["timeline", "changes", "pull-request", "details"];

function tabFrom(value: string | null): Tab {
  return TABS.find((tab) => tab === value) ?? "timeline";
}

export function SessionPage() {
  const { sessionId = "" } = useParams();
  // A new id is a new page: fresh state, socket and drafts.
  return <SessionView key={sessionId} sessionId={sessionId} />;
}

/** How close to the bottom (px) still counts as "following" the stream. */
const FOLLOW_THRESHOLD_PX = 120;

function SessionView({ sessionId }: { sessionId: string }) {
  const api = useApi();
  const me = useMe();
  const notify = useToast();
  const queryClient = useQueryClient();
  const models = useModels();
  const repositories = useRepositories();
  const { view, connection, detail, send, reconnectNow } = useSessionLive(sessionId);
  const [params, setParams] = useSearchParams();
  const tab = tabFrom(params.get("tab"));
  const [changesPromptId, setChangesPromptId] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<ReadonlySet<string>>(new Set());
  const [stopping, setStopping] = useState(false);
  const [confirmArchive, setConfirmArchive] = useState(false);
  const typing = useTypingSignal(send);
  usePresenceSignal(send, connection.kind === "live");

  const events = useMemo(() => orderedEvents(view.timeline), [view.timeline]);
  const items = useMemo(() => buildTimeline(events), [events]);
  const changes = useMemo(() => deriveChanges(events), [events]);
  const promptNumbers = useMemo(
    () => new Map(items.filter((item): item is PromptBlock => item.kind === "prompt").map((block) => [block.promptId, block.number])),
    [items],
  );
  const changedFiles = changes.changeSets[0]?.files.length ?? 0;

  const setTab = useCallback(
    (next: Tab) =>
      setParams(
        (current) => {
          const updated = new URLSearchParams(current);
          if (next === "timeline") updated.delete("tab");
          else updated.set("tab", next);
          return updated;
        },
        { replace: true },
      ),
    [setParams],
  );

  const openChanges = useCallback(
    (promptId: string) => {
      setChangesPromptId(promptId);
      setTab("changes");
    },
    [setTab],
  );

  // --- follow the stream: stay pinned to the bottom unless the reader scrolled up ---
  const scroller = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  const [showJump, setShowJump] = useState(false);
  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    following.current = element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_THRESHOLD_PX;
    setShowJump(!following.current);
  };
  const jumpToLatest = () => {
    const element = scroller.current;
    if (element) element.scrollTop = element.scrollHeight;
    following.current = true;
    setShowJump(false);
  };
  useLayoutEffect(() => {
    if (tab !== "timeline") return;
    const element = scroller.current;
    if (element && following.current) element.scrollTop = element.scrollHeight;
  }, [items, view.queue, tab]);

  const session = view.session;
  // A running session shows a marker in the tab, so it can be watched from another tab.
  useDocumentTitle(session ? `${session.status === "running" ? "● " : ""}${session.title || "Untitled session"}` : "Session");
  const failure = connection.kind === "failed" ? connection.error : detail.error instanceof ApiError ? detail.error : null;

  if (!session) {
    if (failure && (failure.status === 404 || failure.status === 403)) return <SessionUnavailable error={failure} />;
    if (detail.isError && !(detail.error instanceof ApiError && detail.error.isTransient)) {
      return (
        <div className="page">
          <ErrorCallout title="This session could not be loaded" error={detail.error} onRetry={() => void detail.refetch()} />
        </div>
      );
    }
    return <LoadingBlock label="Opening session…" />;
  }

  const repository = repositories.data?.find((candidate) => candidate.id === session.repositoryId);
  // What this user may do here, as the session says (presence carries role changes).
  const myRole = currentRole(view, me.user.userId);
  const canSteer = myRole !== "viewer";
  const pullRequestState = pullRequestStateOf(changes.pullRequest);
  const details = { session, repository, presence: view.presence, artifacts: changes.artifacts, isOwner: myRole === "owner", events };
  const running = session.status === "running" || session.status === "starting" || view.queue.some((prompt) => prompt.status === "running");

  const sendPrompt = async (prompt: FollowUp) => {
    try {
      await api.sendPrompt(sessionId, prompt);
      following.current = true;
    } catch (error) {
      notify(errorMessage(error), "error");
      throw error;
    }
  };

  const cancel = async (promptId: string) => {
    setCancelling((current) => new Set(current).add(promptId));
    try {
      await api.cancelPrompt(sessionId, promptId);
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setCancelling((current) => {
        const next = new Set(current);
        next.delete(promptId);
        return next;
      });
    }
  };

  const stop = async () => {
    setStopping(true);
    try {
      await api.stop(sessionId);
      notify("Stopping the agent…");
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setStopping(false);
    }
  };

  const rename = async (title: string) => {
    try {
      await api.renameSession(sessionId, title);
      void queryClient.invalidateQueries({ queryKey: queryKeys.session(sessionId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.allSessions });
    } catch (error) {
      notify(errorMessage(error), "error");
      throw error;
    }
  };

  const decidePush = async (approvalId: string, decision: PushDecision) => {
    try {
      await api.decidePush(sessionId, approvalId, decision);
      notify(decision === "approve" ? "Push approved" : "Push rejected", "success");
    } catch (error) {
      notify(errorMessage(error), "error");
      throw error;
    }
  };

  const setArchived = async (archived: boolean) => {
    setConfirmArchive(false);
    try {
      if (archived) await api.archive(sessionId);
      else await api.unarchive(sessionId);
      notify(archived ? "Session archived" : "Session restored", "success");
      void queryClient.invalidateQueries({ queryKey: queryKeys.session(sessionId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.allSessions });
    } catch (error) {
      notify(errorMessage(error), "error");
    }
  };

  return (
    <div className="session">
      <div className="session__main">
        <header className="session__header">
          <div className="session__title-row">
            <Link to="/" className="btn btn--ghost btn--sm btn--icon" aria-label="Back to sessions" title="Back to sessions">
              ←
            </Link>
            <SessionTitle title={session.title} canRename={canSteer && !session.archived} onRename={rename} />
            <StatusBadge status={session.status} />
            {session.archived && <span className="badge">Archived</span>}
            <span className="grow" />
            <PresenceBar entries={view.presence} />
            <ConnectionIndicator state={connection} onRetry={reconnectNow} />
          </div>
          <div className="session__meta-row">
            <div className="session__facts">
              <span className="mono truncate">{session.repositoryName || repository?.fullName}</span>
              {session.branch && (
                <>
                  <span aria-hidden>·</span>
                  <span className="mono truncate session__branch" title={session.branch}>
                    ⎇ {session.branch}
                  </span>
                  <CopyButton text={session.branch} label="Copy branch" className="hide-narrow" compact />
                </>
              )}
              <span aria-hidden className="hide-narrow">
                ·
              </span>
              <span className="mono hide-narrow">{session.model}</span>
              <span aria-hidden>·</span>
              <span title="Cost so far">{cost(session.costUsd)}</span>
              <span aria-hidden>·</span>
              <OriginBadge origin={session.origin} />
            </div>
            <div className="session__actions">
              {running && canSteer && (
                <button type="button" className="btn btn--danger btn--sm" onClick={() => void stop()} disabled={stopping}>
                  ■ {stopping ? "Stopping…" : "Stop"}
                </button>
              )}
              <CopyButton text={window.location.origin + `/sessions/${sessionId}`} label="Copy link" />
              {session.archived ? (
                <button type="button" className="btn btn--sm" onClick={() => void setArchived(false)}>
                  Unarchive
                </button>
              ) : (
                <button type="button" className="btn btn--ghost btn--sm" onClick={() => setConfirmArchive(true)}>
                  Archive
                </button>
              )}
            </div>
          </div>
          <div className="tabs session__tabs" role="tablist" aria-label="Session views">
            <button type="button" role="tab" className="tab" aria-selected={tab === "timeline"} onClick={() => setTab("timeline")}>
              Timeline
            </button>
            <button type="button" role="tab" className="tab" aria-selected={tab === "changes"} onClick={() => setTab("changes")}>
              Changes {changedFiles > 0 && <span className="tab__count">{changedFiles}</span>}
            </button>
            <button type="button" role="tab" className="tab" aria-selected={tab === "pull-request"} onClick={() => setTab("pull-request")}>
              Pull request {pullRequestState && <PullRequestStateBadge state={pullRequestState.state} draft={pullRequestState.draft} />}
            </button>
            <button
              type="button"
              role="tab"
              className="tab session__details-tab"
              aria-selected={tab === "details"}
              onClick={() => setTab("details")}
            >
              Details
            </button>
          </div>
        </header>

        {connection.kind === "failed" && connection.error.status !== 401 && (
          <div className="session__banner">
            <ErrorCallout title="Live updates stopped" error={connection.error} />
          </div>
        )}

        <div className="session__scroll" ref={scroller} onScroll={onScroll} role="tabpanel" aria-label={tab}>
          {tab === "timeline" && (
            <div className="session__timeline">
              {!view.caughtUp && items.length === 0 ? (
                <LoadingBlock label="Loading the timeline…" />
              ) : items.length === 0 && view.queue.length === 0 ? (
                <EmptyState icon="💬" title="Nothing has happened yet">
                  <p>Send a prompt below to give the agent its task.</p>
                </EmptyState>
              ) : (
                <TimelineView
                  items={items}
                  repositories={repositories.data}
                  onOpenChanges={openChanges}
                  canSteer={canSteer}
                  onDecidePush={decidePush}
                />
              )}
            </div>
          )}
          {tab === "changes" && (
            <div className="session__changes">
              <ChangesPanel changes={changes} promptNumbers={promptNumbers} initialPromptId={changesPromptId} />
            </div>
          )}
          {tab === "pull-request" && (
            <div className="session__changes">
              <PullRequestPanel
                sessionId={sessionId}
                session={session}
                artifact={changes.pullRequest}
                canSteer={canSteer}
                hasCommits={changes.commits.length > 0}
              />
            </div>
          )}
          {tab === "details" && (
            <div className="session__details-inline">
              <DetailsPanel {...details} />
            </div>
          )}
        </div>

        <footer className="session__footer">
          {showJump && tab === "timeline" && (
            <button type="button" className="btn btn--sm session__jump" onClick={jumpToLatest}>
              ↓ Jump to latest
            </button>
          )}
          {changes.pendingApprovals.map((approval) => (
            <PushApprovalCard key={approval.approvalId} approval={approval} canDecide={canSteer} onDecide={decidePush} compact />
          ))}
          {tab === "timeline" && <QueuePanel prompts={view.queue} cancelling={cancelling} onCancel={(promptId) => void cancel(promptId)} />}
          <TypingIndicator names={typingNames(view.presence, me.user.userId)} />
          <PromptBox
            sessionId={sessionId}
            models={models.data}
            sessionModel={session.model}
            disabledReason={
              session.archived
                ? "This session is archived; unarchive it to continue."
                : !canSteer
                  ? "You can watch this session but not prompt it; ask its owner to make you a member."
                  : null
            }
            running={running}
            onSend={sendPrompt}
            onTyping={typing.typed}
            onTypingDone={typing.done}
          />
        </footer>
      </div>
      <aside className="session__aside" aria-label="Session details">
        <DetailsPanel {...details} />
      </aside>
      <ConfirmDialog
        open={confirmArchive}
        title="Archive this session?"
        message="It leaves the active list and stops taking prompts. Everything it did is kept, and you can unarchive it at any time."
        confirmLabel="Archive"
        onConfirm={() => void setArchived(true)}
        onCancel={() => setConfirmArchive(false)}
      />
    </div>
  );
}

function SessionUnavailable({ error }: { error: ApiError }) {
  return (
    <div className="page">
      <EmptyState
        icon={error.status === 404 ? "🔎" : "🔒"}
        title={error.status === 404 ? "Session not found" : "No access to this session"}
      >
        <p>{error.message}</p>
        <Link to="/" className="btn">
          Back to sessions
        </Link>
      </EmptyState>
    </div>
  );
}
