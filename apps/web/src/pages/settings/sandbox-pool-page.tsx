import { MAX_POOL_SIZE, SandboxPoolResponse, type SandboxPoolRepository } from "@lookout/protocol";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import { useRepositories } from "../../api/queries";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";
import { dateTime, duration, relativeTime } from "../../lib/format";

const POOL_KEY = ["sandbox-pool"] as const;
/** The pool changes on its own (fills, claims, refreshes): read again this often while shown. */
const REFRESH_MS = 5_000;

const HELD_LABELS: Record<NonNullable<NonNullable<SandboxPoolRepository["pool"]>["held"]>, string> = {
  failed: "waiting after a failure",
  idle: "stopped while idle; refills when a session uses the repository",
  capacity: "held at the cap on running sandboxes",
  unsupported: "not pooled (a remote repository the GitHub App gave no read-only token for, or no model configured)",
  disabled: "the gateway keeps no pool (LOOKOUT_POOL=off)",
};

/**
 * Settings → Warm pool (ADR 0012): per repository, how many sandboxes the gateway keeps cloned,
 * set up and with OpenCode running (warm / starting / refreshing), how many sessions claimed one,
 * why a pool is not filling (a failing setup script with its output), the size an admin set, and
 * the cap on running sandboxes that pool and sessions share.
 */
export function SandboxPoolPage() {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const pool = useQuery({
    queryKey: POOL_KEY,
    queryFn: ({ signal }) => api.http.get("/api/sandbox-pool", { schema: SandboxPoolResponse, signal }),
    refetchInterval: REFRESH_MS,
  });
  const repositories = useRepositories();
  const [busy, setBusy] = useState<string | null>(null);

  const setSize = async (repositoryId: string, size: number | null) => {
    setBusy(repositoryId);
    try {
      const updated = await api.http.put(`/api/sandbox-pool/repositories/${encodeURIComponent(repositoryId)}`, {
        body: { size },
        schema: SandboxPoolResponse,
      });
      queryClient.setQueryData(POOL_KEY, updated);
      notify(size === null ? "Pool size returned to the default" : `Pool size set to ${size}`, "success");
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setBusy(null);
    }
  };

  if (pool.isLoading || repositories.isLoading) return <LoadingBlock />;
  if (pool.isError)
    return <ErrorCallout title="The warm pool could not be loaded" error={pool.error} onRetry={() => void pool.refetch()} />;
  const data = pool.data;
  if (!data) return <LoadingBlock />;
  // Every repository can be given a size; those neither used lately nor sized have none yet.
  const listed = new Set(data.repositories.map((repository) => repository.repositoryId));
  const rows: SandboxPoolRepository[] = [
    ...data.repositories,
    ...(repositories.data ?? [])
      .filter((repository) => !listed.has(repository.id))
      .map((repository) => ({
        repositoryId: repository.id,
        repository: repository.fullName,
        size: 0,
        configuredSize: null,
        lastUsedAtMs: null,
      })),
  ];
  return (
    <div className="stack stack--lg">
      <p className="muted">
        A warm sandbox already holds the repository at its base branch with <span className="mono">.lookout/setup.sh</span> run and OpenCode
        started; a new session on the repository (or someone starting to type) claims it, and the pool makes another. By default a
        repository a session used in the last day keeps one warm sandbox; unclaimed ones stop after{" "}
        {data.idleLimitMs !== null ? duration(data.idleLimitMs) : "the idle limit"}.
      </p>
      <p aria-label="Running sandboxes">
        {data.capacity ? (
          <>
            Running sandboxes: <strong>{data.capacity.running}</strong> of at most <strong>{data.capacity.max}</strong>{" "}
            <span className="faint">(pool and sessions together; sessions take an unclaimed pool sandbox&apos;s place at the cap)</span>
          </>
        ) : (
          <span className="callout callout--error">The sandbox gateway could not be asked: {data.gatewayError ?? "unknown reason"}</span>
        )}
      </p>
      {rows.length === 0 ? (
        <EmptyState icon="🔥" title="No repositories yet">
          <p>Register a repository under Repositories; it gets a warm sandbox once a session uses it, or when you give it a size here.</p>
        </EmptyState>
      ) : (
        <ol className="stack" aria-label="Pools">
          {rows.map((repository) => (
            <PoolCard
              key={repository.repositoryId}
              repository={repository}
              busy={busy === repository.repositoryId}
              onSize={(size) => void setSize(repository.repositoryId, size)}
            />
          ))}
        </ol>
      )}
    </div>
  );
}

function PoolCard(props: { repository: SandboxPoolRepository; busy: boolean; onSize: (size: number | null) => void }) {
  const { repository, busy } = props;
  const state = repository.pool;
  return (
    <li className="card stack" data-repository={repository.repository}>
      <div className="row">
        <strong className="grow">{repository.repository}</strong>
        <label className="row">
          <span>Size</span>
          <select
            className="select"
            aria-label={`Pool size for ${repository.repository}`}
            disabled={busy}
            value={repository.configuredSize === null ? "default" : String(repository.configuredSize)}
            onChange={(event) => props.onSize(event.target.value === "default" ? null : Number(event.target.value))}
          >
            <option value="default">Default ({repository.lastUsedAtMs !== null ? 1 : 0})</option>
            {Array.from({ length: MAX_POOL_SIZE + 1 }, (_, size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="faint">
        {repository.lastUsedAtMs !== null ? `Used ${relativeTime(repository.lastUsedAtMs)}` : "Not used in the last day"} · asks for{" "}
        {repository.size}
      </p>
      {state ? (
        <>
          <p aria-label={`Pool of ${repository.repository}`}>
            <strong>{state.warm}</strong> warm · {state.starting} starting · {state.refreshing} refreshing · {state.claimed} claimed
            {state.held ? <span className="faint"> · {HELD_LABELS[state.held]}</span> : null}
          </p>
          {state.entries.length > 0 && (
            <ul className="stack">
              {state.entries.map((entry) => (
                <li key={entry.sandboxId} className="row faint" title={dateTime(entry.sinceMs)}>
                  <span className="mono">{entry.sandboxId}</span>
                  <span>
                    {entry.state} ({entry.phase}) since {relativeTime(entry.sinceMs)}
                  </span>
                  {entry.baseHead && <span className="mono">{entry.baseHead.slice(0, 12)}</span>}
                  {entry.setupDurationMs !== undefined && <span>setup {duration(entry.setupDurationMs)}</span>}
                </li>
              ))}
            </ul>
          )}
          {state.failure && (
            <div className="callout callout--error">
              {state.failure.message} Next attempt {relativeTime(state.failure.retryAtMs)}.
              {state.failure.output && (
                <details>
                  <summary>Setup script output</summary>
                  <pre className="mono">{state.failure.output}</pre>
                </details>
              )}
            </div>
          )}
        </>
      ) : (
        repository.size > 0 && <p className="faint">The gateway holds no pool for it yet.</p>
      )}
    </li>
  );
}
