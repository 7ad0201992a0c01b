import { Link } from "react-router";
import type { PresenceEntry, Repository, SessionEvent, SessionState } from "@lookout/protocol";
import { useMemo } from "react";
import type { Artifact } from "../../state/derive";
import { cost, dateTime } from "../../lib/format";
import { participantsVersion } from "../../state/participants";
import { Avatar } from "../avatar";
import { OriginBadge } from "../origin-badge";
import { RelativeTime } from "../relative-time";
import { SandboxBadge, StatusBadge } from "../status-badge";
import { ArtifactCard } from "./artifact-card";
import { ParticipantRoles } from "./participant-roles";

export interface DetailsPanelProps {
  session: SessionState;
  repository: Repository | undefined;
  presence: PresenceEntry[];
  artifacts: Artifact[];
  /** The owner also sees everyone's roles and changes them. */
  isOwner: boolean;
  /** The session's events, in order (who joined, whose role changed). */
  events: readonly SessionEvent[];
}

/** The session's facts, who is here, and what it produced. */
export function DetailsPanel({ session, repository, presence, artifacts, isOwner, events }: DetailsPanelProps) {
  const version = useMemo(() => participantsVersion(events), [events]);
  const prs = artifacts.filter((artifact) => artifact.kind === "pull_request" || artifact.kind === "branch");
  return (
    <div className="details">
      <section className="details__section" aria-label="Details">
        <dl className="kv">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={session.status} />
          </dd>
          <dt>Sandbox</dt>
          <dd>
            <SandboxBadge status={session.sandboxStatus} />
          </dd>
          <dt>Repository</dt>
          <dd className="mono">{session.repositoryName || repository?.fullName}</dd>
          <dt>Branch</dt>
          <dd className="mono">{session.branch || "—"}</dd>
          <dt>Base</dt>
          <dd className="mono">{session.baseBranch}</dd>
          <dt>Model</dt>
          <dd className="mono">{session.model}</dd>
          {session.reasoningEffort && (
            <>
              <dt>Effort</dt>
              <dd>{session.reasoningEffort}</dd>
            </>
          )}
          <dt>Origin</dt>
          <dd>
            <OriginBadge origin={session.origin} />
          </dd>
          <dt>Owner</dt>
          <dd className="row" style={{ gap: 6 }}>
            <Avatar author={session.owner} size="sm" /> {session.owner.name}
          </dd>
          <dt>Cost</dt>
          <dd>{cost(session.costUsd)}</dd>
          <dt>Created</dt>
          <dd title={dateTime(session.createdAt)}>
            <RelativeTime at={session.createdAt} />
          </dd>
          {session.parentSessionId && (
            <>
              <dt>Parent</dt>
              <dd>
                <Link to={`/sessions/${session.parentSessionId}`}>Open parent session</Link>
              </dd>
            </>
          )}
        </dl>
      </section>

      {prs.length > 0 && (
        <section className="details__section" aria-label="Pull requests">
          <h3 className="details__heading">Pull requests and branches</h3>
          <div className="stack" style={{ gap: 8 }}>
            {prs.map((artifact) => (
              <ArtifactCard key={artifact.artifactId} artifact={artifact} compact />
            ))}
          </div>
        </section>
      )}

      <section className="details__section" aria-label="Participants">
        <h3 className="details__heading">Here now</h3>
        {presence.length === 0 ? (
          <p className="faint">Nobody else is watching.</p>
        ) : (
          <ul className="list details__people">
            {presence.map((entry) => (
              <li key={entry.participant.userId} className="row">
                <Avatar author={entry.participant} size="sm" status={entry.status} />
                <span className="grow truncate">{entry.participant.name}</span>
                <span className="faint">
                  {entry.typing ? "typing…" : entry.status}
                  {entry.connections > 1 && ` · ${entry.connections} tabs`}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>

      {isOwner && <ParticipantRoles sessionId={session.id} version={version} />}
    </div>
  );
}
