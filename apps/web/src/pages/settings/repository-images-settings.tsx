import { RepositoryImage, RepositoryImagesResponse } from "@lookout/protocol";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import { useRepositories } from "../../api/queries";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";
import { dateTime, duration, relativeTime } from "../../lib/format";

const imagesKey = (repositoryId: string) => ["repository-images", repositoryId] as const;
/** While a build runs, the history is read again this often. */
const REFRESH_WHILE_BUILDING_MS = 5_000;

const STATUS_LABELS: Record<RepositoryImage["status"], string> = {
  building: "Building",
  ready: "Ready",
  failed: "Failed",
  superseded: "Superseded",
};

/**
 * Settings → Images: per repository (local or GitHub), the builds of its image (the repository cloned at the
 * base branch with its setup script run, ADR 0015): which one new sessions start from, what each
 * build cost, why one failed with the setup script's output, and a button to build now.
 */
export function RepositoryImagesSettings() {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const repositories = useRepositories();
  const all = repositories.data ?? [];
  const [repositoryId, setRepositoryId] = useState("");
  const selected = repositoryId || all[0]?.id || "";
  const images = useQuery({
    queryKey: imagesKey(selected),
    enabled: selected !== "",
    queryFn: ({ signal }) =>
      api.http.get(`/api/repositories/${encodeURIComponent(selected)}/images`, { schema: RepositoryImagesResponse, signal }),
    refetchInterval: (query) => (query.state.data?.images.some((image) => image.status === "building") ? REFRESH_WHILE_BUILDING_MS : false),
  });
  const [busy, setBusy] = useState(false);

  if (repositories.isLoading) return <LoadingBlock />;
  if (all.length === 0) {
    return (
      <EmptyState icon="📦" title="No repositories yet">
        <p>Register a repository under Repositories; its image is built once a session uses it, and every 30 minutes after.</p>
      </EmptyState>
    );
  }

  const buildNow = async () => {
    setBusy(true);
    try {
      const image = await api.http.post(`/api/repositories/${encodeURIComponent(selected)}/images`, { schema: RepositoryImage });
      notify(
        image.status === "failed" ? `The build did not start: ${image.error ?? "unknown reason"}` : "Building the image",
        image.status === "failed" ? "error" : "success",
      );
      await queryClient.invalidateQueries({ queryKey: imagesKey(selected) });
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setBusy(false);
    }
  };

  const list = images.data?.images ?? [];
  const current = list.find((image) => image.status === "ready");
  return (
    <div className="stack stack--lg">
      <p className="muted">
        A new session&apos;s sandbox starts from the newest ready image: the repository already cloned and its{" "}
        <span className="mono">.lookout/setup.sh</span> already run. The agent reads at once while the sandbox catches up with the newest
        commits; its writes wait for that. Images of repositories used in the last day are rebuilt every{" "}
        {duration(images.data?.rebuildIntervalMs ?? 30 * 60_000)}.
      </p>
      <div className="row">
        <label className="stack grow">
          <span>Repository</span>
          <select className="select" aria-label="Repository" value={selected} onChange={(event) => setRepositoryId(event.target.value)}>
            {all.map((repository) => (
              <option key={repository.id} value={repository.id}>
                {repository.fullName}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="btn btn--primary"
          disabled={busy || list.some((image) => image.status === "building")}
          onClick={() => void buildNow()}
        >
          Build now
        </button>
      </div>

      {images.isError ? (
        <ErrorCallout title="The image builds could not be loaded" error={images.error} onRetry={() => void images.refetch()} />
      ) : images.isLoading ? (
        <LoadingBlock />
      ) : list.length === 0 ? (
        <p className="muted">No image has been built for this repository yet; sessions clone it.</p>
      ) : (
        <>
          <p aria-label="Current image">
            {current ? (
              <>
                Sessions start from the image of <span className="mono">{current.baseSha?.slice(0, 12) ?? "?"}</span>, built{" "}
                {relativeTime(current.finishedAt ?? current.startedAt)}.
              </>
            ) : (
              "No ready image: sessions clone the repository."
            )}
          </p>
          <ol className="stack" aria-label="Image builds">
            {list.map((image) => (
              <li key={image.id} className={`card image-build image-build--${image.status}`} data-status={image.status}>
                <div className="row">
                  <strong>{STATUS_LABELS[image.status]}</strong>
                  {image.snapshotDeletedAt !== undefined && (
                    <span className="faint" title={dateTime(image.snapshotDeletedAt)}>
                      snapshot deleted
                    </span>
                  )}
                  <span className="faint" title={dateTime(image.startedAt)}>
                    {image.trigger === "admin" ? "built on request" : "scheduled"} · {relativeTime(image.startedAt)}
                    {image.durationMs !== null ? ` · ${duration(image.durationMs)}` : ""}
                  </span>
                  {image.baseSha && <span className="mono faint">{image.baseSha.slice(0, 12)}</span>}
                </div>
                {image.error && <div className="callout callout--error">{image.error}</div>}
                {image.output && (
                  <details>
                    <summary>Setup script output</summary>
                    <pre className="mono">{image.output}</pre>
                  </details>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
