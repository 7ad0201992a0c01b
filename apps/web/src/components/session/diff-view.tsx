import { memo, useState } from "react";
import type { DiffFile } from "../../lib/diff";
import { ChangeMark } from "./change-mark";

/** Files longer than this many diff lines render the rest only on request. */
const LINES_BEFORE_CUT = 600;

/** One file of a unified diff: a header with its stats and a table of numbered, colored lines. */
export const FileDiff = memo(function FileDiff({ file, anchorId }: { file: DiffFile; anchorId: string }) {
  const [collapsed, setCollapsed] = useState(false);
  const [showAll, setShowAll] = useState(false);
  const lines = showAll ? file.lines : file.lines.slice(0, LINES_BEFORE_CUT);
  const cut = file.lines.length - lines.length;
  return (
    <section className="file-diff" id={anchorId} aria-label={`Diff of ${file.path}`}>
      <header className="file-diff__header">
        <button
          type="button"
          className="btn btn--ghost btn--sm btn--icon"
          aria-expanded={!collapsed}
          aria-label={collapsed ? "Expand" : "Collapse"}
          onClick={() => setCollapsed((value) => !value)}
        >
          {collapsed ? "▸" : "▾"}
        </button>
        <ChangeMark change={file.change} />
        <span className="file-diff__path mono truncate" title={file.path}>
          {file.oldPath ? `${file.oldPath} → ${file.path}` : file.path}
        </span>
        <span className="diffstat diffstat--add">+{file.additions}</span>
        <span className="diffstat diffstat--del">−{file.deletions}</span>
      </header>
      {!collapsed &&
        (file.binary ? (
          <div className="file-diff__note">Binary file or mode change; no text diff.</div>
        ) : file.lines.length === 0 ? (
          <div className="file-diff__note">This file is not in the recorded diff (it may have been cut for size).</div>
        ) : (
          <div className="file-diff__scroll">
            <table className="diff">
              <tbody>
                {lines.map((line, index) =>
                  line.kind === "hunk" ? (
                    <tr key={index} className="diff__hunk">
                      <td colSpan={3}>{line.header}</td>
                    </tr>
                  ) : (
                    <tr key={index} className={`diff__line diff__line--${line.kind}`}>
                      <td className="diff__num">{line.kind === "add" ? "" : line.oldNumber}</td>
                      <td className="diff__num">{line.kind === "del" ? "" : line.newNumber}</td>
                      <td className="diff__code">
                        <span className="diff__marker" aria-hidden>
                          {line.kind === "add" ? "+" : line.kind === "del" ? "-" : " "}
                        </span>
                        <span className="visually-hidden">{line.kind === "add" ? "added: " : line.kind === "del" ? "removed: " : ""}</span>
                        {line.text}
                      </td>
                    </tr>
                  ),
                )}
              </tbody>
            </table>
            {cut > 0 && (
              <button type="button" className="btn btn--ghost btn--sm file-diff__more" onClick={() => setShowAll(true)}>
                Show {cut} more lines
              </button>
            )}
          </div>
        ))}
    </section>
  );
});
