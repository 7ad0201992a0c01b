import { useState } from "react";
import type { GitPush, PushApproval } from "../../state/derive";
import { clockTime, dateTime, plural } from "../../lib/format";

export type PushDecision = "approve" | "reject";

export interface PushApprovalCardProps {
  approval: PushApproval;
  /** Viewers see the request but cannot decide it. */
  canDecide: boolean;
  /** Resolves once the decision is recorded; rejects (after saying why) when it was refused. */
  onDecide: (approvalId: string, decision: PushDecision) => Promise<void>;
  /** The footer shows a shorter card: the timeline has the whole file list. */
  compact?: boolean;
}

/** Files listed before the rest collapse into "and N more". */
const FILES_SHOWN = 8;

/**
 * A push that changes workflow files waits for a person: this card shows what would leave the
 * sandbox and, while it waits, lets a participant approve or reject it.
 */
export function PushApprovalCard({ approval, canDecide, onDecide, compact = false }: PushApprovalCardProps) {
  const [busy, setBusy] = useState<PushDecision | null>(null);
  const pending = approval.state === "pending";
  const decide = async (decision: PushDecision) => {
    setBusy(decision);
    try {
      await onDecide(approval.approvalId, decision);
    } catch {
      // The caller has said why; the buttons come back for another try.
    } finally {
      setBusy(null);
    }
  };
  const files = compact ? [] : approval.files.slice(0, FILES_SHOWN);
  return (
    <section
      className={`approval approval--${approval.state}${compact ? " approval--compact" : ""}`}
      aria-label={pending ? "Push waiting for approval" : `Push ${approval.state}`}
      data-key={`approval:${approval.approvalId}`}
    >
      <div className="approval__head">
        <span className="approval__icon" aria-hidden>
          {pending ? "⏸" : approval.state === "approved" ? "✓" : "✕"}
        </span>
        <div className="grow">
          <div className="approval__title">
            {pending ? "A push is waiting for approval" : approval.state === "approved" ? "Push approved" : "Push rejected"}
          </div>
          <div className="approval__meta">
            <code>{approval.headSha.slice(0, 7)}</code> to <code>{approval.branch}</code> changes{" "}
            {plural(approval.files.length, "workflow file")}
            {approval.decidedBy && (
              <>
                {" "}
                · {approval.state} by {approval.decidedBy.name}
                {approval.decidedAt !== undefined && (
                  <time dateTime={new Date(approval.decidedAt).toISOString()} title={dateTime(approval.decidedAt)}>
                    {" "}
                    at {clockTime(approval.decidedAt)}
                  </time>
                )}
              </>
            )}
          </div>
        </div>
        {pending && canDecide && (
          <div className="approval__actions">
            <button type="button" className="btn btn--sm" disabled={busy !== null} onClick={() => void decide("reject")}>
              {busy === "reject" ? "Rejecting…" : "Reject"}
            </button>
            <button type="button" className="btn btn--primary btn--sm" disabled={busy !== null} onClick={() => void decide("approve")}>
              {busy === "approve" ? "Approving…" : "Approve push"}
            </button>
          </div>
        )}
      </div>
      {files.length > 0 && (
        <ul className="approval__files">
          {files.map((file) => (
            <li key={file} className="mono truncate" title={file}>
              {file}
            </li>
          ))}
          {approval.files.length > files.length && <li className="faint">and {approval.files.length - files.length} more</li>}
        </ul>
      )}
      {pending && !compact && (
        <p className="approval__why faint">
          Workflow files run with the repository&apos;s CI permissions, so a person decides whether they leave the sandbox.
          {!canDecide && " Viewers cannot decide; ask a member of this session."}
        </p>
      )}
    </section>
  );
}

/** A `git.push` event: the branch was pushed, the push failed, or it waits for approval. */
export function GitPushLine({ push }: { push: GitPush }) {
  const sha = <code title={push.headSha}>{push.headSha.slice(0, 7)}</code>;
  const branch = <code>{push.branch}</code>;
  return (
    <div className={`event-line event-line--push event-line--push-${push.status}`}>
      <span aria-hidden>{push.status === "pushed" ? "↑" : push.status === "failed" ? "⚠" : "⏸"}</span>
      <span className="event-line__text">
        {push.status === "pushed" ? (
          <>
            Pushed {branch} at {sha}
          </>
        ) : push.status === "failed" ? (
          <>
            Pushing {branch} failed{push.error ? `: ${push.error}` : ""}
          </>
        ) : (
          <>
            Push of {sha} to {branch} is waiting for approval
          </>
        )}
      </span>
      <time className="faint" title={dateTime(push.at)}>
        {clockTime(push.at)}
      </time>
    </div>
  );
}
