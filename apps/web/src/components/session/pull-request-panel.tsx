import { PullRequestState, type PullRequest, type PullRequestReview, type SessionState } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useId, useMemo, useState, type FormEvent } from "react";
import { z } from "zod";
import { ApiError } from "../../api/api-error";
import { useApi } from "../../api/context";
import { queryKeys, usePullRequest } from "../../api/queries";
import { parseUnifiedDiff, withListedFiles } from "../../lib/diff";
import { dateTime, plural, relativeTime } from "../../lib/format";
import { safeUrl } from "../../lib/safe-url";
import type { Artifact } from "../../state/derive";
import { Avatar } from "../avatar";
import { CopyButton } from "../copy-button";
import { ConfirmDialog } from "../dialog";
import { Markdown } from "../markdown";
import { ErrorCallout, LoadingBlock } from "../states";
import { useToast } from "../toasts";
import { FileDiff } from "./diff-view";

export interface PullRequestPanelProps {
  sessionId: string;
  session: SessionState;
  /** The pull request's row in the event log; it is rewritten whenever the pull request changes. */
  artifact: Artifact | null;
  /** Members and owners open and merge; viewers read. */
  canSteer: boolean;
  /** Whether the agent has committed anything yet. */
  hasCommits: boolean;
}

/**
 * The session branch's pull request: a form to open it, then its state, and for local
 * repositories the review record (commits, files, diff) with a Merge button. GitHub pull requests
 * link to GitHub, where they are reviewed and merged.
 */
export function PullRequestPanel({ sessionId, session, artifact, canSteer, hasCommits }: PullRequestPanelProps) {
  const pullRequest = usePullRequest(sessionId, artifact?.seq ?? null);
  if (pullRequest.isPending) return <LoadingBlock label="Loading the pull request…" />;
  if (pullRequest.isError) {
    return (
      <ErrorCallout title="The pull request could not be loaded" error={pullRequest.error} onRetry={() => void pullRequest.refetch()} />
    );
  }
  if (!pullRequest.data) return <CreatePullRequest sessionId={sessionId} session={session} canSteer={canSteer} hasCommits={hasCommits} />;
  return <PullRequestView sessionId={sessionId} pullRequest={pullRequest.data} canSteer={canSteer} />;
}

function CreatePullRequest({
  sessionId,
  session,
  canSteer,
  hasCommits,
}: {
  sessionId: string;
  session: SessionState;
  canSteer: boolean;
  hasCommits: boolean;
}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const ids = useId();
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [ready, setReady] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.createPullRequest(sessionId, {
        ...(title.trim() ? { title: title.trim() } : {}),
        ...(body.trim() ? { body: body.trim() } : {}),
        // Left out, the deployment's default applies (a draft unless configured otherwise).
        ...(ready ? { draft: false } : {}),
      });
      notify("Pull request opened", "success");
      await queryClient.invalidateQueries({ queryKey: queryKeys.pullRequest(sessionId) });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card pr-create" onSubmit={(event) => void submit(event)} aria-label="Create pull request">
      <div className="card__body stack">
        <div>
          <h2 className="pr__heading">Open a pull request</h2>
          <p className="muted">
            Proposes <code>{session.branch}</code> for <code>{session.baseBranch}</code> of <code>{session.repositoryName}</code>.
            {!hasCommits && " The agent has not committed anything yet; send it a task first."}
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${ids}-title`} className="field__label">
            Title
          </label>
          <input
            id={`${ids}-title`}
            className="input"
            maxLength={256}
            placeholder={session.title || "Named after the session"}
            value={title}
            onChange={(event) => setTitle(event.target.value)}
            disabled={!canSteer}
          />
        </div>
        <div className="field">
          <label htmlFor={`${ids}-body`} className="field__label">
            Description
          </label>
          <textarea
            id={`${ids}-body`}
            className="textarea"
            rows={3}
            maxLength={60_000}
            placeholder="Left empty, Lookout lists this session's prompts and links back here."
            value={body}
            onChange={(event) => setBody(event.target.value)}
            disabled={!canSteer}
          />
        </div>
        <label className="checkbox">
          <input type="checkbox" checked={ready} onChange={(event) => setReady(event.target.checked)} disabled={!canSteer} />
          Ready for review (otherwise it opens as a draft)
        </label>
        {error !== null && <ErrorCallout title="The pull request was not opened" error={error} />}
        <div className="row row--between row--wrap">
          <span className="faint">{canSteer ? "" : "Viewers cannot open pull requests; ask a member of this session."}</span>
          <button type="submit" className="btn btn--primary" disabled={!canSteer || busy}>
            {busy ? "Opening…" : "Create pull request"}
          </button>
        </div>
      </div>
    </form>
  );
}

const STATE_BADGE: Record<PullRequest["state"] | "draft", { label: string; className: string }> = {
  open: { label: "Open", className: "badge badge--green" },
  draft: { label: "Draft", className: "badge" },
  merged: { label: "Merged", className: "badge badge--accent" },
  closed: { label: "Closed", className: "badge badge--red" },
};

const ArtifactState = z.object({ state: PullRequestState, draft: z.boolean().default(false) });

/** The state a pull request's artifact row carries, or null when it has none it can show. */
export function pullRequestStateOf(artifact: Artifact | null): { state: PullRequest["state"]; draft: boolean } | null {
  const parsed = ArtifactState.safeParse(artifact?.data);
  return parsed.success ? parsed.data : null;
}

export function PullRequestStateBadge({ state, draft }: { state: PullRequest["state"]; draft: boolean }) {
  const badge = STATE_BADGE[state === "open" && draft ? "draft" : state];
  return (
    <span className={badge.className} data-pr-state={state}>
      {badge.label}
    </span>
  );
}

function PullRequestView({ sessionId, pullRequest, canSteer }: { sessionId: string; pullRequest: PullRequest; canSteer: boolean }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const [confirmMerge, setConfirmMerge] = useState(false);
  const [merging, setMerging] = useState(false);
  const [mergeError, setMergeError] = useState<unknown>(null);
  const githubUrl = pullRequest.provider === "github" ? safeUrl(pullRequest.url ?? undefined) : null;
  const canMerge = pullRequest.provider === "local" && pullRequest.state === "open" && canSteer;

  const merge = async () => {
    setConfirmMerge(false);
    setMerging(true);
    setMergeError(null);
    try {
      await api.mergePullRequest(sessionId);
      notify(`Merged into ${pullRequest.baseBranch}`, "success");
      await queryClient.invalidateQueries({ queryKey: queryKeys.pullRequest(sessionId) });
    } catch (caught) {
      setMergeError(caught);
    } finally {
      setMerging(false);
    }
  };

  return (
    <div className="pr" aria-label="Pull request">
      <header className="card pr__header">
        <div className="card__body stack" style={{ gap: 8 }}>
          <div className="row row--between row--wrap" style={{ alignItems: "flex-start" }}>
            <div className="row" style={{ gap: 8, minWidth: 0 }}>
              <PullRequestStateBadge state={pullRequest.state} draft={pullRequest.draft} />
              <h2 className="pr__title">
                {pullRequest.title}
                {pullRequest.number !== null && <span className="faint"> #{pullRequest.number}</span>}
              </h2>
            </div>
            <div className="row" style={{ gap: 8 }}>
              {githubUrl && (
                <a className="btn btn--sm" href={githubUrl} target="_blank" rel="noreferrer noopener">
                  Open on GitHub ↗
                </a>
              )}
              {canMerge && (
                <button type="button" className="btn btn--primary btn--sm" onClick={() => setConfirmMerge(true)} disabled={merging}>
                  {merging ? "Merging…" : "Merge"}
                </button>
              )}
            </div>
          </div>
          <div className="pr__meta">
            <span className="mono">
              {pullRequest.baseBranch} ← {pullRequest.headBranch}
            </span>
            <span aria-hidden>·</span>
            <span className="row" style={{ gap: 4 }}>
              <Avatar author={pullRequest.openedBy} size="sm" /> opened by {pullRequest.openedBy.name}
              {pullRequest.openedAs === "app" && " (through the Lookout App)"}
            </span>
            <span aria-hidden>·</span>
            <span title={dateTime(pullRequest.updatedAt)}>updated {relativeTime(pullRequest.updatedAt)}</span>
          </div>
          {pullRequest.state === "merged" && (
            <div className="callout callout--info" role="status">
              <span aria-hidden>✓</span>
              <div className="callout__body">
                Merged into <code>{pullRequest.baseBranch}</code>
                {pullRequest.mergeSha && (
                  <>
                    {" "}
                    as <code title={pullRequest.mergeSha}>{pullRequest.mergeSha.slice(0, 7)}</code>
                  </>
                )}
                {pullRequest.mergedAt !== null && <> {relativeTime(pullRequest.mergedAt)}</>}.
              </div>
            </div>
          )}
          {mergeError !== null && <MergeError error={mergeError} baseBranch={pullRequest.baseBranch} />}
          {pullRequest.body && (
            <details className="pr__body">
              <summary>Description</summary>
              <Markdown text={pullRequest.body} />
            </details>
          )}
        </div>
      </header>

      {pullRequest.review ? (
        <Review review={pullRequest.review} />
      ) : (
        <div className="callout callout--info">
          <span aria-hidden>ⓘ</span>
          <div className="callout__body">
            This pull request is reviewed and merged on GitHub
            {githubUrl && (
              <>
                :{" "}
                <a href={githubUrl} target="_blank" rel="noreferrer noopener">
                  {githubUrl}
                </a>
              </>
            )}
            .
          </div>
        </div>
      )}

      <ConfirmDialog
        open={confirmMerge}
        title={`Merge into ${pullRequest.baseBranch}?`}
        message={
          <>
            Lookout merges <code>{pullRequest.headBranch}</code> into <code>{pullRequest.baseBranch}</code> with a merge commit made as you.
            It merges exactly the reviewed head, <code>{pullRequest.headSha?.slice(0, 7) ?? "?"}</code>.
          </>
        }
        confirmLabel="Merge"
        busy={merging}
        onConfirm={() => void merge()}
        onCancel={() => setConfirmMerge(false)}
      />
    </div>
  );
}

const ConflictDetails = z.object({ files: z.array(z.string()) });

/** A refused merge in plain words; conflicts list the files that collide. */
function MergeError({ error, baseBranch }: { error: unknown; baseBranch: string }) {
  const conflict = error instanceof ApiError && error.code === "MERGE_CONFLICT" ? ConflictDetails.safeParse(error.details) : null;
  if (!conflict?.success) return <ErrorCallout title="The merge did not happen" error={error} />;
  const files = conflict.data.files;
  return (
    <div className="callout callout--error" role="alert">
      <span aria-hidden>⚠</span>
      <div className="callout__body">
        <div className="callout__title">
          This branch conflicts with <code>{baseBranch}</code> in {plural(files.length, "file")}
        </div>
        <ul className="pr__conflicts">
          {files.map((file) => (
            <li key={file} className="mono">
              {file}
            </li>
          ))}
        </ul>
        <div>
          Ask the agent to merge <code>{baseBranch}</code> into its branch and resolve the conflicts, then merge again.
        </div>
      </div>
    </div>
  );
}

function Review({ review }: { review: PullRequestReview }) {
  const files = useMemo(() => withListedFiles(review.files, parseUnifiedDiff(review.diff)), [review]);
  const additions = files.reduce((sum, file) => sum + file.additions, 0);
  const deletions = files.reduce((sum, file) => sum + file.deletions, 0);
  return (
    <>
      <section className="changes__section" aria-label="Commits">
        <h2 className="changes__heading">
          {plural(review.commits.length, "commit")}{" "}
          <span className="faint pr__range">
            <code title={review.baseSha}>{review.baseSha.slice(0, 7)}</code>…
            <code title={review.headSha}>{review.headSha.slice(0, 7)}</code>
          </span>
        </h2>
        {review.commits.length === 0 ? (
          <p className="faint">The branch has no commits its base does not have.</p>
        ) : (
          <ul className="card list">
            {review.commits.map((commit) => (
              <li key={commit.sha} className="commit">
                <code className="commit__sha" title={commit.sha}>
                  {commit.sha.slice(0, 7)}
                </code>
                <span className="grow truncate">{commit.subject}</span>
                <span className="faint" title={`${commit.author.name} <${commit.author.email}>`}>
                  {commit.author.name}
                </span>
                <span className="faint hide-narrow" title={dateTime(commit.authoredAt)}>
                  {relativeTime(commit.authoredAt)}
                </span>
                <CopyButton text={commit.sha} label="Copy SHA" />
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="changes__section" aria-label="Files in the pull request">
        <h2 className="changes__heading">
          {plural(files.length, "file")} changed <span className="diffstat diffstat--add">+{additions}</span>{" "}
          <span className="diffstat diffstat--del">−{deletions}</span>
        </h2>
        {review.diffTruncated && <div className="callout callout--info">The diff is very large; its middle is left out here.</div>}
        <div className="changes__diffs">
          {files.map((file, index) => (
            <FileDiff key={file.path} file={file} anchorId={`pr-file-${index}`} />
          ))}
        </div>
      </section>
    </>
  );
}
