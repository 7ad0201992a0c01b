import { useQuery } from "@tanstack/react-query";
import { useState, type KeyboardEvent } from "react";
import { useNavigate } from "react-router";
import { useApi } from "../api/context";
import { useDebouncedValue } from "../hooks/use-debounced-value";
import { Dialog } from "./dialog";
import { StatusBadge } from "./status-badge";

interface Command {
  id: string;
  label: string;
  hint?: string;
  run: () => void;
  render?: () => React.ReactNode;
}

/** Sessions shown in the palette at most. */
const SESSION_RESULTS = 8;

/** Cmd/Ctrl+K: jump to any session by title, or to any page. */
export function CommandPalette({ open, onClose, onShowShortcuts }: { open: boolean; onClose: () => void; onShowShortcuts: () => void }) {
  return (
    <Dialog open={open} onClose={onClose} title="Go to">
      {open && <PaletteBody onClose={onClose} onShowShortcuts={onShowShortcuts} />}
    </Dialog>
  );
}

function PaletteBody({ onClose, onShowShortcuts }: { onClose: () => void; onShowShortcuts: () => void }) {
  const api = useApi();
  const navigate = useNavigate();
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const q = useDebouncedValue(query.trim(), 150);
  const sessions = useQuery({
    queryKey: ["palette-sessions", q],
    queryFn: ({ signal }) => api.listSessions({ q: q || undefined, limit: SESSION_RESULTS }, signal),
    staleTime: 5_000,
  });

  const go = (path: string) => () => {
    onClose();
    void navigate(path);
  };
  const actions: Command[] = [
    { id: "new", label: "New session", hint: "C", run: go("/new") },
    { id: "sessions", label: "Sessions", hint: "G S", run: go("/") },
    { id: "archived", label: "Archived sessions", run: go("/?view=archived") },
    { id: "automations", label: "Automations", hint: "G A", run: go("/automations") },
    { id: "new-automation", label: "New automation", run: go("/automations/new") },
    { id: "repositories", label: "Settings: Repositories", hint: "G ,", run: go("/settings/repositories") },
    { id: "secrets", label: "Settings: Secrets", run: go("/settings/secrets") },
    { id: "models", label: "Settings: Models", run: go("/settings/models") },
    {
      id: "shortcuts",
      label: "Keyboard shortcuts",
      hint: "?",
      run: () => {
        onClose();
        onShowShortcuts();
      },
    },
  ];
  const needle = query.trim().toLowerCase();
  const matchingActions = actions.filter((action) => action.label.toLowerCase().includes(needle));
  const sessionCommands: Command[] = (sessions.data?.sessions ?? []).map((session) => ({
    id: `session:${session.id}`,
    label: session.title || "Untitled session",
    run: go(`/sessions/${session.id}`),
    render: () => (
      <>
        <span className="grow truncate">{session.title || "Untitled session"}</span>
        <span className="faint mono hide-narrow">{session.repositoryName}</span>
        <StatusBadge status={session.status} />
      </>
    ),
  }));
  const commands = [...sessionCommands, ...matchingActions];
  const activeIndex = Math.min(active, Math.max(0, commands.length - 1));

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive((index) => Math.min(commands.length - 1, index + 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((index) => Math.max(0, index - 1));
    } else if (event.key === "Enter") {
      event.preventDefault();
      commands[activeIndex]?.run();
    }
  };

  return (
    <div className="palette">
      <input
        className="input"
        autoFocus
        role="combobox"
        aria-expanded
        aria-controls="palette-list"
        aria-activedescendant={commands[activeIndex] ? `palette-${activeIndex}` : undefined}
        aria-label="Search sessions and pages"
        placeholder="Search sessions or type a page…"
        value={query}
        onChange={(event) => {
          setQuery(event.target.value);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
      />
      <ul id="palette-list" role="listbox" className="palette__list" aria-label="Results">
        {sessionCommands.length === 0 && matchingActions.length === 0 && (
          <li className="palette__empty faint">{sessions.isFetching ? "Searching…" : "Nothing matches."}</li>
        )}
        {commands.map((command, index) => (
          <li
            key={command.id}
            id={`palette-${index}`}
            role="option"
            aria-selected={index === activeIndex}
            className="palette__item"
            onMouseEnter={() => setActive(index)}
            onClick={command.run}
          >
            {command.render ? (
              command.render()
            ) : (
              <>
                <span className="grow">{command.label}</span>
                {command.hint && <kbd>{command.hint}</kbd>}
              </>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
