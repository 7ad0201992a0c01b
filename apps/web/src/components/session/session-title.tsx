import { useState, type FormEvent } from "react";

/** The longest title the API accepts. */
const MAX_TITLE_CHARS = 200;

export interface SessionTitleProps {
  title: string;
  canRename: boolean;
  /** Saves the new title; rejects (after saying why) when the rename was refused. */
  onRename: (title: string) => Promise<void>;
}

/** The session's name in the header; members rename it in place (Enter saves, Escape cancels). */
export function SessionTitle({ title, canRename, onRename }: SessionTitleProps) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(title);
  const [saving, setSaving] = useState(false);

  const start = () => {
    setValue(title);
    setEditing(true);
  };

  const save = async (event?: FormEvent) => {
    event?.preventDefault();
    const next = value.trim();
    if (!next || next === title) {
      setEditing(false);
      return;
    }
    setSaving(true);
    try {
      await onRename(next);
      setEditing(false);
    } catch {
      // The caller said why; the field stays open with the text for another try.
    } finally {
      setSaving(false);
    }
  };

  if (editing) {
    return (
      <form className="session__rename" onSubmit={(event) => void save(event)}>
        <input
          className="input input--sm session__rename-input"
          aria-label="Session title"
          autoFocus
          maxLength={MAX_TITLE_CHARS}
          value={value}
          disabled={saving}
          onChange={(event) => setValue(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Escape") {
              event.preventDefault();
              setEditing(false);
            }
          }}
        />
        <button type="submit" className="btn btn--primary btn--sm" disabled={saving || !value.trim()}>
          {saving ? "Saving…" : "Save"}
        </button>
        <button type="button" className="btn btn--ghost btn--sm" onClick={() => setEditing(false)} disabled={saving}>
          Cancel
        </button>
      </form>
    );
  }
  return (
    <>
      <h1 className="session__title truncate" title={title}>
        {title || "Untitled session"}
      </h1>
      {canRename && (
        <button
          type="button"
          className="btn btn--ghost btn--sm btn--icon session__rename-button"
          aria-label="Rename session"
          title="Rename"
          onClick={start}
        >
          ✎
        </button>
      )}
    </>
  );
}
