import { GithubPushPolicy, GithubTriggerSettingsResponse, type GithubTriggerSettings } from "@lookout/protocol";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import { useRepositories } from "../../api/queries";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";

const POLICY_LABELS: Record<GithubPushPolicy, string> = {
  "child-pull-request": "A new pull request based on the pull request's branch (the author merges it)",
  "direct-push": "Push to the pull request's branch (only for people with write access)",
};

const settingsKey = (repositoryId: string) => ["github-trigger-settings", repositoryId] as const;

/** Logins from a textarea: one per line or comma-separated, blanks dropped. */
function parseLogins(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((login) => login.replace(/^@/, "").trim())
    .filter((login) => login.length > 0);
}

/**
 * Settings → GitHub mentions: per GitHub repository, whether `@app` mentions on its pull requests
 * start work, who may ask besides people with write access, where the agent's commits go, and
 * auto-review.
 */
export function GithubTriggersSettings() {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const repositories = useRepositories();
  const githubRepositories = (repositories.data ?? []).filter((repository) => repository.kind === "github");
  const [repositoryId, setRepositoryId] = useState("");
  const selected = repositoryId || githubRepositories[0]?.id || "";
  const settings = useQuery({
    queryKey: settingsKey(selected),
    enabled: selected !== "",
    queryFn: ({ signal }) =>
      api.http.get(`/api/github-triggers/${encodeURIComponent(selected)}`, { schema: GithubTriggerSettingsResponse, signal }),
  });
  const [draft, setDraft] = useState<GithubTriggerSettings | null>(null);
  const [allowlist, setAllowlist] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!settings.data) return;
    setDraft(settings.data.settings);
    setAllowlist(settings.data.settings.allowlist.join("\n"));
  }, [settings.data]);

  if (repositories.isLoading) return <LoadingBlock />;
  if (githubRepositories.length === 0) {
    return (
      <EmptyState icon="🐙" title="No GitHub repositories yet">
        <p>Register a GitHub repository under Repositories, then choose here who may mention Lookout on its pull requests.</p>
      </EmptyState>
    );
  }

  const save = async () => {
    if (!draft) return;
    setBusy(true);
    try {
      const saved = await api.http.put(`/api/github-triggers/${encodeURIComponent(selected)}`, {
        body: { ...draft, allowlist: parseLogins(allowlist) },
        schema: GithubTriggerSettingsResponse,
      });
      queryClient.setQueryData(settingsKey(selected), saved);
      notify(`Saved the GitHub mention settings for ${saved.repository}`, "success");
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="stack stack--lg">
      <p className="muted">
        Mention the GitHub App on a pull request (<span className="mono">@your-app please handle the review comments</span>) to start a
        session on it. Setting up the App and its webhook: <span className="mono">docs/github.md</span>.
      </p>
      <label className="stack">
        <span>Repository</span>
        <select className="select" aria-label="Repository" value={selected} onChange={(event) => setRepositoryId(event.target.value)}>
          {githubRepositories.map((repository) => (
            <option key={repository.id} value={repository.id}>
              {repository.fullName}
            </option>
          ))}
        </select>
      </label>

      {settings.isError ? (
        <ErrorCallout title="GitHub mention settings could not be loaded" error={settings.error} onRetry={() => void settings.refetch()} />
      ) : !draft || settings.isLoading ? (
        <LoadingBlock />
      ) : (
        <form
          className="card stack"
          aria-label="GitHub mention settings"
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <label className="row">
            <input type="checkbox" checked={draft.enabled} onChange={(event) => setDraft({ ...draft, enabled: event.target.checked })} />
            <span>Mentions on this repository's pull requests start work</span>
          </label>
          <label className="stack">
            <span>Also allowed (GitHub logins, one per line)</span>
            <span className="faint">
              Everyone with write access may ask; others get one polite reply per pull request. Bots never trigger.
            </span>
            <textarea
              className="input mono"
              aria-label="Allowlist"
              rows={3}
              value={allowlist}
              onChange={(event) => setAllowlist(event.target.value)}
            />
          </label>
          <fieldset className="stack">
            <legend>Where the agent's commits go</legend>
            {GithubPushPolicy.options.map((policy) => (
              <label key={policy} className="row">
                <input
                  type="radio"
                  name="push-policy"
                  value={policy}
                  checked={draft.pushPolicy === policy}
                  onChange={() => setDraft({ ...draft, pushPolicy: policy })}
                />
                <span>{POLICY_LABELS[policy]}</span>
              </label>
            ))}
            <span className="faint">
              Pull requests from forks never get a push or the repository's secrets: Lookout answers with a suggested patch.
            </span>
          </fieldset>
          <label className="row">
            <input
              type="checkbox"
              checked={draft.autoReview}
              onChange={(event) => setDraft({ ...draft, autoReview: event.target.checked })}
            />
            <span>Review pull requests when they open or request Lookout as a reviewer (a comment review with line comments)</span>
          </label>
          <div className="row">
            <button type="submit" className="btn btn--primary" disabled={busy}>
              Save
            </button>
            {!settings.data?.saved && <span className="faint">Defaults apply until you save.</span>}
          </div>
        </form>
      )}
    </div>
  );
}
