import { Link } from "react-router";
import type { Artifact } from "../../state/derive";
import { safeUrl } from "../../lib/safe-url";
import { PullRequestStateBadge, pullRequestStateOf } from "./pull-request-panel";

const KIND_LABEL: Record<Artifact["kind"], string> = {
  pull_request: "Pull request",
  screenshot: "Screenshot",
  branch: "Branch",
  commit: "Commit",
  file: "File",
};

const KIND_ICON: Record<Artifact["kind"], string> = {
  pull_request: "⇄",
  screenshot: "▣",
  branch: "⎇",
  commit: "●",
  file: "🗎",
};

/** A pull request, branch, commit, screenshot or file the session produced. */
export function ArtifactCard({ artifact, compact = false }: { artifact: Artifact; compact?: boolean }) {
  const pullRequest = artifact.kind === "pull_request" ? pullRequestStateOf(artifact) : null;
  // A local pull request's address is its session's page; its review lives in the pull request tab.
  const local = artifact.kind === "pull_request" && artifact.data?.provider === "local";
  const url = local ? localReviewUrl(artifact.url) : safeUrl(artifact.url);
  const state = pullRequest ? null : typeof artifact.data?.state === "string" ? artifact.data.state : null;
  const number = typeof artifact.data?.number === "number" ? artifact.data.number : null;
  return (
    <div className={`artifact artifact--${artifact.kind}${compact ? " artifact--compact" : ""}`}>
      <span className="artifact__icon" aria-hidden>
        {KIND_ICON[artifact.kind]}
      </span>
      <div className="grow">
        <div className="artifact__kind">
          {KIND_LABEL[artifact.kind]}
          {number !== null && ` #${number}`}
          {state && (
            <span className="badge" style={{ marginLeft: 6 }}>
              {state}
            </span>
          )}
          {pullRequest && (
            <span style={{ marginLeft: 6 }}>
              <PullRequestStateBadge state={pullRequest.state} draft={pullRequest.draft} />
            </span>
          )}
        </div>
        {url && local ? (
          <Link to={url} className="artifact__title">
            {artifact.title}
          </Link>
        ) : url ? (
          <a href={url} target="_blank" rel="noreferrer noopener" className="artifact__title">
            {artifact.title}
          </a>
        ) : (
          <div className="artifact__title">{artifact.title}</div>
        )}
        {artifact.kind === "screenshot" && url && !compact && (
          <a href={url} target="_blank" rel="noreferrer noopener" className="artifact__shot">
            <img src={url} alt={artifact.title} loading="lazy" />
          </a>
        )}
      </div>
    </div>
  );
}

/** The session page's pull request tab, from the session address a local pull request carries. */
function localReviewUrl(url: string | undefined): string | null {
  const safe = safeUrl(url);
  if (!safe) return null;
  const target = new URL(safe, window.location.origin);
  target.searchParams.set("tab", "pull-request");
  return target.pathname + target.search;
}
