import parseDiff from "parse-diff";

export type DiffLine =
  | { kind: "hunk"; header: string }
  | { kind: "context"; oldNumber: number; newNumber: number; text: string }
  | { kind: "add"; newNumber: number; text: string }
  | { kind: "del"; oldNumber: number; text: string };

export interface DiffFile {
  /** The path after the change (before it, for a deletion). */
  path: string;
  oldPath: string | null;
  change: "added" | "modified" | "deleted" | "renamed";
  additions: number;
  deletions: number;
  lines: DiffLine[];
  /** True when the diff has no text hunks (binary files, mode changes). */
  binary: boolean;
}

const DEV_NULL = "/dev/null";

/** Splits a unified diff (as `git diff` prints it) into files and numbered lines. */
export function parseUnifiedDiff(diff: string | undefined): DiffFile[] {
  if (!diff?.trim()) return [];
  return parseDiff(diff).map((file) => {
    const from = file.from && file.from !== DEV_NULL ? file.from : null;
    const to = file.to && file.to !== DEV_NULL ? file.to : null;
    const change = file.new || !from ? "added" : file.deleted || !to ? "deleted" : from !== to ? "renamed" : "modified";
    const lines: DiffLine[] = [];
    for (const chunk of file.chunks) {
      lines.push({ kind: "hunk", header: chunk.content });
      for (const line of chunk.changes) {
        // parse-diff keeps the +/-/space marker; the view draws its own.
        const text = line.content.slice(1);
        if (line.type === "add") lines.push({ kind: "add", newNumber: line.ln, text });
        else if (line.type === "del") lines.push({ kind: "del", oldNumber: line.ln, text });
        else if (!line.content.startsWith("\\")) lines.push({ kind: "context", oldNumber: line.ln1, newNumber: line.ln2, text });
      }
    }
    return {
      path: to ?? from ?? "(unknown file)",
      oldPath: change === "renamed" ? from : null,
      change,
      additions: file.additions,
      deletions: file.deletions,
      lines,
      binary: file.chunks.length === 0,
    };
  });
}

/** What a change lists about one file, without its lines. */
export interface ListedFile {
  path: string;
  change: DiffFile["change"];
  additions?: number | undefined;
  deletions?: number | undefined;
}

/**
 * The listed files are the truth about what changed; the diff adds lines. Files the diff has but
 * the list lacks (a truncated list) are kept too, after the listed ones.
 */
export function withListedFiles(listed: readonly ListedFile[], diffed: readonly DiffFile[]): DiffFile[] {
  const byPath = new Map(diffed.map((file) => [file.path, file]));
  const merged: DiffFile[] = listed.map((file) => {
    const diff = byPath.get(file.path);
    byPath.delete(file.path);
    return {
      path: file.path,
      oldPath: diff?.oldPath ?? null,
      change: file.change,
      additions: file.additions ?? diff?.additions ?? 0,
      deletions: file.deletions ?? diff?.deletions ?? 0,
      lines: diff?.lines ?? [],
      binary: diff?.binary ?? false,
    };
  });
  return [...merged, ...byPath.values()];
}
