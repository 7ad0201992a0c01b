import type { Artifact } from "../../state/derive";
import { safeUrl } from "../../lib/safe-url";

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
  const url = safeUrl(artifact.url);
  const state = typeof artifact.data?.state === "string" ? artifact.data.state : null;
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
        </div>
        {url ? (
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
