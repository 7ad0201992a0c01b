/** A one-letter badge for how a file changed: Added, Modified, Deleted, Renamed. */
export function ChangeMark({ change }: { change: "added" | "modified" | "deleted" | "renamed" }) {
  const mark = { added: "A", modified: "M", deleted: "D", renamed: "R" }[change];
  return (
    <span className={`change-mark change-mark--${change}`} title={change}>
      {mark}
    </span>
  );
}
