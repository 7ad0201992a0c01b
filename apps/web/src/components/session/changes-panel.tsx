import { useMemo, useState } from "react";
import type { SessionChanges } from "../../state/derive";
import { parseUnifiedDiff, withListedFiles } from "../../lib/diff";
import { dateTime, plural, relativeTime } from "../../lib/format";
import { CopyButton } from "../copy-button";
import { EmptyState } from "../states";
import { ArtifactCard } from "./artifact-card";
import { FileDiff } from "./diff-view";
import { ChangeMark } from "./change-mark";

export interface ChangesPanelProps {
  changes: SessionChanges;
  /** 1-based prompt numbers by prompt id, to name change sets. */
  promptNumbers: ReadonlyMap<string, number>;
  /** The change set to open first (from "Review changes"); defaults to the newest. */
  initialPromptId?: string | null;
}

/**
 * What the session changed: each prompt's `files.changed` (the newest is the current state against
 * the base branch) with a per-file unified diff, then commits and artifacts.
 */
export function ChangesPanel({ changes, promptNumbers, initialPromptId }: ChangesPanelProps) {
  const { changeSets, commits, artifacts } = changes;
  const [selected, setSelected] = useState<string | null>(initialPromptId ?? null);
  const current = changeSets.find((set) => set.promptId === selected) ?? changeSets[0];

  const files = useMemo(() => (current ? withListedFiles(current.files, parseUnifiedDiff(current.diff)) : []), [current]);

  if (!current && commits.length === 0 && artifacts.length === 0) {
    return (
      <EmptyState icon="🗂" title="No changes yet">
        <p>Files the agent changes show up here with a diff, with its commits and pull requests.</p>
      </EmptyState>
    );
  }

  const additions = files.reduce((sum, file) => sum + file.additions, 0);
  const deletions = files.reduce((sum, file) => sum + file.deletions, 0);

  return (
    <div className="changes">
      {artifacts.length > 0 && (
        <section className="changes__section" aria-label="Artifacts">
          <h2 className="changes__heading">Artifacts</h2>
          <div className="artifact-grid">
            {artifacts.map((artifact) => (
              <ArtifactCard key={artifact.artifactId} artifact={artifact} />
            ))}
          </div>
        </section>
      )}

      {current && (
        <section className="changes__section" aria-label="Files changed">
          <div className="row row--between row--wrap changes__bar">
            <h2 className="changes__heading">
              {plural(files.length, "file")} changed <span className="diffstat diffstat--add">+{additions}</span>{" "}
              <span className="diffstat diffstat--del">−{deletions}</span>
            </h2>
            {changeSets.length > 1 ? (
              <label className="row">
                <span className="faint">As of</span>
                <select className="select select--sm" value={current.promptId} onChange={(event) => setSelected(event.target.value)}>
                  {changeSets.map((set, index) => (
                    <option key={set.promptId} value={set.promptId}>
                      Prompt {promptNumbers.get(set.promptId) ?? "?"}
                      {index === 0 ? " (latest)" : ""}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <span className="faint" title={dateTime(current.at)}>
                as of prompt {promptNumbers.get(current.promptId) ?? "?"}, {relativeTime(current.at)}
              </span>
            )}
          </div>
          <div className="changes__layout">
            <nav className="changes__files" aria-label="Changed files">
              <ul className="list">
                {files.map((file, index) => (
                  <li key={file.path}>
                    <a href={`#${anchorFor(index)}`} className="changes__file" title={file.path}>
                      <ChangeMark change={file.change} />
                      <span className="truncate mono">{file.path}</span>
                      <span className="diffstat diffstat--add">+{file.additions}</span>
                      <span className="diffstat diffstat--del">−{file.deletions}</span>
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <div className="changes__diffs">
              {!current.diff && (
                <div className="callout callout--info">The diff for these changes was not recorded; only the file list is known.</div>
              )}
              {current.diff && files.map((file, index) => <FileDiff key={file.path} file={file} anchorId={anchorFor(index)} />)}
            </div>
          </div>
        </section>
      )}

      {commits.length > 0 && (
        <section className="changes__section" aria-label="Commits">
          <h2 className="changes__heading">Commits</h2>
          <ul className="card list">
            {commits.map((commit) => (
              <li key={commit.sha} className="commit">
                <code className="commit__sha" title={commit.sha}>
                  {commit.sha.slice(0, 7)}
                </code>
                <span className="grow truncate">{commit.message.split("\n", 1)[0]}</span>
                <span className="faint hide-narrow">{commit.author.name}</span>
                <code className="faint hide-narrow">{commit.branch}</code>
                <CopyButton text={commit.sha} label="Copy SHA" />
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function anchorFor(index: number): string {
  return `diff-file-${index}`;
}
