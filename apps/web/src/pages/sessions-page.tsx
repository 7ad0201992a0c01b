import type { Author, SessionStatus, SessionSummary } from "@lookout/protocol";
import { SessionStatus as SessionStatusSchema } from "@lookout/protocol";
import { useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useRepositories, useSessionsList } from "../api/queries";
import { Avatar } from "../components/avatar";
import { RelativeTime } from "../components/relative-time";
import { OriginBadge, ReportFailure } from "../components/origin-badge";
import { EmptyState, ErrorCallout, Skeleton, Spinner } from "../components/states";
import { SESSION_STATUSES, StatusBadge, sessionStatusLabel } from "../components/status-badge";
import { useDebouncedValue } from "../hooks/use-debounced-value";
import { useHotkey } from "../hooks/use-hotkey";
import { cost } from "../lib/format";
import { useMe } from "../state/auth";
import { useDocumentTitle } from "../hooks/use-document-title";

/** Typing in the search box waits this long before asking the server. */
const SEARCH_DEBOUNCE_MS = 250;
const ME = "me";

export function SessionsPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const archived = params.get("view") === "archived";
  const statusParam = SessionStatusSchema.safeParse(params.get("status"));
  const status: SessionStatus | undefined = statusParam.success ? statusParam.data : undefined;
  const repositoryId = params.get("repo") ?? undefined;
  const ownerParam = params.get("owner") ?? undefined;
  const ownerId = ownerParam === ME ? me.user.userId : ownerParam;
  const [search, setSearch] = useState(params.get("q") ?? "");
  const q = useDebouncedValue(search.trim(), SEARCH_DEBOUNCE_MS) || undefined;
  const searchRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);

  useDocumentTitle(archived ? "Archived sessions" : "Sessions");
  const filters = { archived, status, repositoryId, ownerId, q };
  const sessions = useSessionsList(filters);
  const repositories = useRepositories();

  const setParam = (name: string, value: string | undefined) => {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );
  };

  useHotkey("/", () => searchRef.current?.focus());
  useHotkey("j", () => moveFocus(listRef.current, 1));
  useHotkey("k", () => moveFocus(listRef.current, -1));

  const rows = useMemo(() => dedupe(sessions.data?.pages.flatMap((page) => page.sessions) ?? []), [sessions.data]);
  // Owners seen so far stay selectable after a filter hides their sessions.
  const ownerCache = useRef(new Map<string, Author>());
  const owners = useMemo(() => knownOwners(ownerCache.current, rows, me.user.userId), [rows, me.user.userId]);
  const filtered = Boolean(status || repositoryId || ownerParam || q);

  return (
    <div className="page">
      <div className="page__header">
        <div className="row">
          <h1>Sessions</h1>
          {sessions.isFetching && !sessions.isLoading && <Spinner label="Refreshing" />}
        </div>
        <div className="segmented" role="group" aria-label="Which sessions">
          <button type="button" aria-pressed={!archived} onClick={() => setParam("view", undefined)}>
            Active
          </button>
          <button type="button" aria-pressed={archived} onClick={() => setParam("view", "archived")}>
            Archived
          </button>
        </div>
      </div>

      <div className="filters" role="search">
        <label className="filters__search">
          <span className="visually-hidden">Search sessions</span>
          <input
            ref={searchRef}
            className="input"
            type="search"
            placeholder="Search titles…  /"
            value={search}
            onChange={(event) => {
              setSearch(event.target.value);
              setParam("q", event.target.value.trim() || undefined);
            }}
            onKeyDown={(event) => {
              if (event.key === "Escape") event.currentTarget.blur();
            }}
          />
        </label>
        <label>
          <span className="visually-hidden">Status</span>
          <select className="select" value={status ?? ""} onChange={(event) => setParam("status", event.target.value || undefined)}>
            <option value="">Any status</option>
            {SESSION_STATUSES.map((value) => (
              <option key={value} value={value}>
                {sessionStatusLabel(value)}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span className="visually-hidden">Repository</span>
          <select className="select" value={repositoryId ?? ""} onChange={(event) => setParam("repo", event.target.value || undefined)}>
            <option value="">All repositories</option>
            {repositories.data?.map((repository) => (
              <option key={repository.id} value={repository.id}>
                {repository.fullName}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span className="visually-hidden">Owner</span>
          <select className="select" value={ownerParam ?? ""} onChange={(event) => setParam("owner", event.target.value || undefined)}>
            <option value="">Anyone</option>
            <option value={ME}>Me</option>
            {owners.map((owner) => (
              <option key={owner.userId} value={owner.userId}>
                {owner.name}
              </option>
            ))}
            {ownerParam && ownerParam !== ME && !owners.some((owner) => owner.userId === ownerParam) && (
              <option value={ownerParam}>{ownerParam}</option>
            )}
          </select>
        </label>
        {filtered && (
          <button
            type="button"
            className="btn btn--ghost"
            onClick={() => {
              setSearch("");
              setParams(archived ? { view: "archived" } : {}, { replace: true });
            }}
          >
            Clear filters
          </button>
        )}
      </div>

      {sessions.isError && !sessions.data ? (
        <ErrorCallout title="Sessions could not be loaded" error={sessions.error} onRetry={() => void sessions.refetch()} />
      ) : sessions.isLoading ? (
        <SessionsSkeleton />
      ) : rows.length === 0 ? (
        filtered ? (
          <EmptyState icon="🔍" title="No sessions match">
            <p>Try another search or clear the filters.</p>
          </EmptyState>
        ) : archived ? (
          <EmptyState icon="🗄" title="Nothing archived">
            <p>Sessions you archive wait here, with everything they did.</p>
          </EmptyState>
        ) : (
          <EmptyState icon="✨" title="No sessions yet">
            <p>Hand Lookout a task: it works in a sandbox and ends with a pull request.</p>
            <Link to="/new" className="btn btn--primary">
              Start a session <kbd>C</kbd>
            </Link>
          </EmptyState>
        )
      ) : (
        <>
          {sessions.isError && (
            <ErrorCallout title="Refreshing failed; showing the last list" error={sessions.error} onRetry={() => void sessions.refetch()} />
          )}
          <ul className="card list session-list" ref={listRef} aria-label="Sessions">
            {rows.map((session) => (
              <SessionRow key={session.id} session={session} />
            ))}
          </ul>
          <div className="session-list__footer">
            <span className="faint">
              {rows.length} {rows.length === 1 ? "session" : "sessions"}
            </span>
            {sessions.hasNextPage && (
              <button type="button" className="btn" onClick={() => void sessions.fetchNextPage()} disabled={sessions.isFetchingNextPage}>
                {sessions.isFetchingNextPage ? "Loading…" : "Load more"}
              </button>
            )}
          </div>
        </>
      )}
    </div>
  );
}

function SessionRow({ session }: { session: SessionSummary }) {
  return (
    <li>
      <Link to={`/sessions/${session.id}`} className="session-row" data-session-row>
        <div className="session-row__status">
          <StatusBadge status={session.status} />
        </div>
        <div className="session-row__main">
          <div className="session-row__title truncate">{session.title || "Untitled session"}</div>
          <div className="session-row__meta">
            <span className="truncate mono">{session.repositoryName}</span>
            <span aria-hidden>·</span>
            <span className="row" style={{ gap: 4 }}>
              <Avatar author={session.owner} size="sm" />
              <span className="truncate">{session.owner.name}</span>
            </span>
            <span aria-hidden className="hide-narrow">
              ·
            </span>
            <span className="truncate hide-narrow">{session.model}</span>
            <span aria-hidden>·</span>
            <OriginBadge origin={session.origin} linked={false} />
            <ReportFailure error={session.reportError} />
          </div>
        </div>
        <div className="session-row__side">
          <span className="session-row__cost" title="Cost so far">
            {cost(session.costUsd)}
          </span>
          <span className="faint">
            <RelativeTime at={session.lastActivityAt} />
          </span>
        </div>
      </Link>
    </li>
  );
}

function SessionsSkeleton() {
  return (
    <ul className="card list session-list" aria-busy="true" aria-label="Loading sessions">
      {[0, 1, 2, 3, 4].map((index) => (
        <li key={index} className="session-row">
          <Skeleton width={72} height={20} />
          <div className="session-row__main stack" style={{ gap: 6 }}>
            <Skeleton width="55%" />
            <Skeleton width="35%" height={12} />
          </div>
        </li>
      ))}
    </ul>
  );
}

/** Pages can overlap while the list changes between fetches; show each session once. */
function dedupe(sessions: SessionSummary[]): SessionSummary[] {
  const seen = new Set<string>();
  return sessions.filter((session) => (seen.has(session.id) ? false : (seen.add(session.id), true)));
}

function knownOwners(owners: Map<string, Author>, sessions: SessionSummary[], selfId: string): Author[] {
  for (const session of sessions) if (session.owner.userId !== selfId) owners.set(session.owner.userId, session.owner);
  return [...owners.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function moveFocus(list: HTMLElement | null, step: number): void {
  if (!list) return;
  const rows = [...list.querySelectorAll<HTMLElement>("[data-session-row]")];
  if (rows.length === 0) return;
  const index = rows.findIndex((row) => row === document.activeElement);
  const next = index === -1 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, index + step));
  rows[next]?.focus();
  rows[next]?.scrollIntoView({ block: "nearest" });
}
