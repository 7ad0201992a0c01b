import { MAX_PROMPT_CHARS } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { z } from "zod";
import { useApi } from "../api/context";
import { queryKeys, useModels, useRepositories } from "../api/queries";
import { newRequestId } from "../api/request-id";
import { EffortPicker, ModelPicker, parseEffort, RepositoryPicker } from "../components/pickers";
import { EmptyState, ErrorCallout, LoadingBlock } from "../components/states";
import { isSubmitShortcut, MOD_KEY_LABEL } from "../hooks/use-hotkey";
import { useDraft } from "../state/drafts";
import { useDocumentTitle } from "../hooks/use-document-title";

const NewSessionDraft = z.object({
  repositoryId: z.string(),
  model: z.string(),
  reasoningEffort: z.string(),
  title: z.string(),
  prompt: z.string(),
  /** Reused until the session is created, so a retried submit cannot create two sessions. */
  requestId: z.string(),
});
type NewSessionDraft = z.infer<typeof NewSessionDraft>;

const EMPTY_DRAFT: NewSessionDraft = { repositoryId: "", model: "", reasoningEffort: "", title: "", prompt: "", requestId: "" };

export function NewSessionPage() {
  const api = useApi();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const repositories = useRepositories();
  const models = useModels();
  const [draft, setDraft] = useDraft("new-session", NewSessionDraft, EMPTY_DRAFT);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [showTitle, setShowTitle] = useState(draft.title !== "");
  useDocumentTitle("New session");

  if (repositories.isLoading || models.isLoading) return <LoadingBlock />;
  if (repositories.isError) return <PageError error={repositories.error} onRetry={() => void repositories.refetch()} />;
  if (models.isError) return <PageError error={models.error} onRetry={() => void models.refetch()} />;
  const repositoryList = repositories.data ?? [];
  const modelList = models.data;
  if (!modelList) return <LoadingBlock />;

  if (repositoryList.length === 0) {
    return (
      <div className="page">
        <EmptyState icon="📦" title="Register a repository first">
          <p>Lookout works on a local git repository or a GitHub repository.</p>
          <Link to="/settings/repositories" className="btn btn--primary">
            Add a repository
          </Link>
        </EmptyState>
      </div>
    );
  }

  // An explicit ?repo= wins, then the draft's choice if it still exists, then the first one.
  const wanted = params.get("repo") ?? draft.repositoryId;
  const repositoryId = repositoryList.some((repository) => repository.id === wanted) ? wanted : (repositoryList[0]?.id ?? "");
  const model = modelList.models.some((candidate) => candidate.id === draft.model) ? draft.model : modelList.defaultModel;
  const update = (patch: Partial<NewSessionDraft>) => setDraft((current) => ({ ...current, ...patch }));
  const canSubmit = draft.prompt.trim().length > 0 && repositoryId !== "" && !submitting;

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSubmit) return;
    const requestId = draft.requestId || newRequestId();
    if (!draft.requestId) update({ requestId });
    setSubmitting(true);
    setError(null);
    try {
      const created = await api.createSession({
        repositoryId,
        prompt: draft.prompt.trim(),
        model,
        requestId,
        ...(draft.title.trim() ? { title: draft.title.trim() } : {}),
        ...(parseEffort(draft.reasoningEffort) ? { reasoningEffort: parseEffort(draft.reasoningEffort) } : {}),
      });
      // Keep the pickers for next time; the text and the request id are spent.
      setDraft((current) => ({ ...current, repositoryId, title: "", prompt: "", requestId: "" }));
      void queryClient.invalidateQueries({ queryKey: queryKeys.allSessions });
      void navigate(`/sessions/${created.session.id}`);
    } catch (caught) {
      setError(caught);
      setSubmitting(false);
    }
  };

  return (
    <div className="page page--narrow">
      <form className="composer card" onSubmit={(event) => void submit(event)} aria-label="New session">
        <div className="card__body stack">
          <h1>What should Lookout do?</h1>
          <label htmlFor="prompt" className="visually-hidden">
            Task
          </label>
          <textarea
            id="prompt"
            className="textarea composer__prompt"
            rows={8}
            autoFocus
            maxLength={MAX_PROMPT_CHARS}
            placeholder="Describe the change: what to fix or build, where to look, how to check it works…"
            value={draft.prompt}
            onChange={(event) => update({ prompt: event.target.value })}
            onKeyDown={(event) => {
              if (isSubmitShortcut(event)) {
                event.preventDefault();
                void submit();
              } else if (event.key === "Escape") {
                event.currentTarget.blur();
              }
            }}
          />
          {showTitle ? (
            <div className="field">
              <label htmlFor="title" className="field__label">
                Title
              </label>
              <input
                id="title"
                className="input"
                maxLength={200}
                placeholder="Named from the task if left empty"
                value={draft.title}
                onChange={(event) => update({ title: event.target.value })}
              />
            </div>
          ) : (
            <button type="button" className="btn btn--ghost btn--sm" style={{ alignSelf: "flex-start" }} onClick={() => setShowTitle(true)}>
              + Add a title
            </button>
          )}
          <div className="composer__pickers">
            <RepositoryPicker
              label="Repository"
              repositories={repositoryList}
              value={repositoryId}
              onChange={(value) => update({ repositoryId: value })}
            />
            <ModelPicker label="Model" models={modelList} value={model} onChange={(value) => update({ model: value })} />
            <EffortPicker label="Reasoning" value={draft.reasoningEffort} onChange={(value) => update({ reasoningEffort: value })} />
          </div>
          {error !== null && <ErrorCallout title="The session was not started" error={error} />}
          <div className="row row--between row--wrap">
            <span className="faint" style={{ fontSize: "var(--text-sm)" }}>
              Your draft is saved as you type.
            </span>
            <button type="submit" className="btn btn--primary" disabled={!canSubmit}>
              {submitting ? "Starting…" : "Start session"}
              <kbd>{MOD_KEY_LABEL}</kbd>
              <kbd>↵</kbd>
            </button>
          </div>
        </div>
      </form>
    </div>
  );
}

function PageError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  return (
    <div className="page page--narrow">
      <ErrorCallout title="The composer could not load" error={error} onRetry={onRetry} />
    </div>
  );
}
