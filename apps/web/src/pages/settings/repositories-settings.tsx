import { RepositoryInput, RepositoryUpdate, type Repository } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import type { RepositoryPatch } from "../../api/lookout-api";
import { queryKeys, useRepositories } from "../../api/queries";
import { ConfirmDialog } from "../../components/dialog";
import { RelativeTime } from "../../components/relative-time";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";
import { fieldErrors } from "../../lib/zod-issues";

export function RepositoriesSettings() {
  const repositories = useRepositories();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Repository | null>(null);
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();

  const remove = async (repository: Repository) => {
    setRemoving(null);
    try {
      await api.deleteRepository(repository.id);
      notify(`Removed ${repository.fullName}`, "success");
      await queryClient.invalidateQueries({ queryKey: queryKeys.repositories });
    } catch (error) {
      notify(errorMessage(error), "error");
    }
  };

  if (repositories.isLoading) return <LoadingBlock />;
  if (repositories.isError) {
    return <ErrorCallout title="Repositories could not be loaded" error={repositories.error} onRetry={() => void repositories.refetch()} />;
  }
  const list = repositories.data ?? [];

  return (
    <div className="stack stack--lg">
      <div className="row row--between row--wrap">
        <p className="muted">Repositories Lookout can work on: a git repository on this machine, or one on GitHub.</p>
        {!adding && (
          <button type="button" className="btn btn--primary" onClick={() => setAdding(true)}>
            Add repository
          </button>
        )}
      </div>
      {adding && <AddRepositoryForm onDone={() => setAdding(false)} />}
      {list.length === 0 && !adding ? (
        <EmptyState icon="📦" title="No repositories yet">
          <p>Register one to start sessions on it.</p>
          <button type="button" className="btn btn--primary" onClick={() => setAdding(true)}>
            Add repository
          </button>
        </EmptyState>
      ) : (
        list.length > 0 && (
          <ul className="card list" aria-label="Repositories">
            {list.map((repository) =>
              editing === repository.id ? (
                <li key={repository.id} className="settings-row settings-row--form">
                  <EditRepositoryForm repository={repository} onDone={() => setEditing(null)} />
                </li>
              ) : (
                <li key={repository.id} className="settings-row">
                  <span className="badge badge--outline">{repository.kind === "github" ? "GitHub" : "Local"}</span>
                  <div className="grow">
                    <div className="settings-row__title mono truncate">{repository.fullName}</div>
                    <div className="faint truncate">
                      {repository.path ? <span className="mono">{repository.path}</span> : null}
                      {repository.path ? " · " : ""}default branch <span className="mono">{repository.defaultBranch}</span>
                      {repository.description ? ` · ${repository.description}` : ""}
                    </div>
                  </div>
                  <span className="faint hide-narrow">
                    added <RelativeTime at={repository.createdAt} />
                  </span>
                  <Link to={`/settings/secrets?scope=${repository.id}`} className="btn btn--ghost btn--sm">
                    Secrets
                  </Link>
                  <button type="button" className="btn btn--ghost btn--sm" onClick={() => setEditing(repository.id)}>
                    Edit
                  </button>
                  <button
                    type="button"
                    className="btn btn--ghost btn--sm"
                    onClick={() => setRemoving(repository)}
                    aria-label={`Remove ${repository.fullName}`}
                  >
                    Remove
                  </button>
                </li>
              ),
            )}
          </ul>
        )
      )}
      <ConfirmDialog
        open={removing !== null}
        title={`Remove ${removing?.fullName ?? "repository"}?`}
        message="New sessions can no longer use it. Existing sessions and their history are kept."
        confirmLabel="Remove"
        danger
        onConfirm={() => removing && void remove(removing)}
        onCancel={() => setRemoving(null)}
      />
    </div>
  );
}

type Kind = "local" | "github";

function AddRepositoryForm({ onDone }: { onDone: () => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const [kind, setKind] = useState<Kind>("local");
  const [path, setPath] = useState("");
  const [fullName, setFullName] = useState("");
  const [name, setName] = useState("");
  const [defaultBranch, setDefaultBranch] = useState("main");
  const [description, setDescription] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const derivedName = name || (kind === "local" ? basename(path) : "");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const github = parseGitHubName(fullName);
    const candidate =
      kind === "local"
        ? {
            kind,
            path: path.trim(),
            name: derivedName,
            defaultBranch: defaultBranch.trim() || "main",
            ...(description.trim() ? { description: description.trim() } : {}),
          }
        : {
            kind,
            owner: github.owner,
            name: github.name,
            defaultBranch: defaultBranch.trim() || "main",
            ...(description.trim() ? { description: description.trim() } : {}),
          };
    const parsed = RepositoryInput.safeParse(candidate);
    if (!parsed.success) {
      const found = fieldErrors(parsed.error);
      // GitHub's owner and name are typed as one field.
      if (kind === "github" && (found.owner || found.name)) found.fullName = found.owner ?? found.name ?? "";
      setErrors(found);
      return;
    }
    setErrors({});
    setBusy(true);
    setServerError(null);
    try {
      const repository = await api.createRepository(parsed.data);
      notify(`Added ${repository.fullName}`, "success");
      await queryClient.invalidateQueries({ queryKey: queryKeys.repositories });
      onDone();
    } catch (error) {
      setServerError(error);
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={(event) => void submit(event)} aria-label="Add repository" noValidate>
      <div className="card__header">
        <h2>Add a repository</h2>
        <div className="segmented" role="group" aria-label="Where the repository lives">
          <button type="button" aria-pressed={kind === "local"} onClick={() => setKind("local")}>
            Local path
          </button>
          <button type="button" aria-pressed={kind === "github"} onClick={() => setKind("github")}>
            GitHub
          </button>
        </div>
      </div>
      <div className="card__body form-grid">
        {kind === "local" ? (
          <>
            <TextField
              id="repo-path"
              label="Path"
              hint="Absolute path of a git repository on the machine running Lookout."
              value={path}
              onChange={setPath}
              error={errors.path}
              placeholder="/home/me/code/my-app"
              mono
              autoFocus
            />
            <TextField
              id="repo-name"
              label="Name"
              hint="How it is shown; taken from the folder if empty."
              value={name}
              onChange={setName}
              error={errors.name}
              placeholder={basename(path) || "my-app"}
              mono
            />
          </>
        ) : (
          <TextField
            id="repo-full-name"
            label="Repository"
            hint="owner/name, or its GitHub URL."
            value={fullName}
            onChange={setFullName}
            error={errors.fullName}
            placeholder="acme/web"
            mono
            autoFocus
          />
        )}
        <TextField
          id="repo-branch"
          label="Default branch"
          value={defaultBranch}
          onChange={setDefaultBranch}
          error={errors.defaultBranch}
          mono
        />
        <TextField
          id="repo-description"
          label="Description"
          hint="Optional; helps people pick the right repository."
          value={description}
          onChange={setDescription}
          error={errors.description}
        />
        {serverError !== null && <ErrorCallout title="The repository was not added" error={serverError} />}
        <div className="row" style={{ justifyContent: "flex-end" }}>
          <button type="button" className="btn" onClick={onDone}>
            Cancel
          </button>
          <button type="submit" className="btn btn--primary" disabled={busy}>
            {busy ? "Adding…" : "Add repository"}
          </button>
        </div>
      </div>
    </form>
  );
}

function EditRepositoryForm({ repository, onDone }: { repository: Repository; onDone: () => void }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const [name, setName] = useState(repository.name);
  const [defaultBranch, setDefaultBranch] = useState(repository.defaultBranch);
  const [description, setDescription] = useState(repository.description ?? "");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const patch: RepositoryPatch = {};
    if (name.trim() !== repository.name) patch.name = name.trim();
    if (defaultBranch.trim() !== repository.defaultBranch) patch.defaultBranch = defaultBranch.trim();
    if (description.trim() !== (repository.description ?? "")) patch.description = description.trim();
    if (Object.keys(patch).length === 0) {
      onDone();
      return;
    }
    const parsed = RepositoryUpdate.safeParse(patch);
    if (!parsed.success) {
      setErrors(fieldErrors(parsed.error));
      return;
    }
    setBusy(true);
    setServerError(null);
    try {
      await api.updateRepository(repository.id, patch);
      notify(`Saved ${repository.fullName}`, "success");
      await queryClient.invalidateQueries({ queryKey: queryKeys.repositories });
      onDone();
    } catch (error) {
      setServerError(error);
      setBusy(false);
    }
  };

  return (
    <form className="form-grid grow" onSubmit={(event) => void submit(event)} aria-label={`Edit ${repository.fullName}`} noValidate>
      {repository.kind === "local" && (
        <TextField id={`name-${repository.id}`} label="Name" value={name} onChange={setName} error={errors.name} mono autoFocus />
      )}
      <TextField
        id={`branch-${repository.id}`}
        label="Default branch"
        value={defaultBranch}
        onChange={setDefaultBranch}
        error={errors.defaultBranch}
        mono
      />
      <TextField
        id={`description-${repository.id}`}
        label="Description"
        value={description}
        onChange={setDescription}
        error={errors.description}
      />
      {serverError !== null && <ErrorCallout error={serverError} />}
      <div className="row" style={{ justifyContent: "flex-end" }}>
        <button type="button" className="btn" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="btn btn--primary" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}

interface TextFieldProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  hint?: string;
  placeholder?: string;
  mono?: boolean;
  autoFocus?: boolean;
  type?: string;
}

export function TextField({ id, label, value, onChange, error, hint, placeholder, mono, autoFocus, type = "text" }: TextFieldProps) {
  return (
    <div className="field">
      <label htmlFor={id} className="field__label">
        {label}
      </label>
      <input
        id={id}
        className={`input${mono ? " mono" : ""}`}
        type={type}
        value={value}
        placeholder={placeholder}
        autoFocus={autoFocus}
        autoComplete="off"
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        onChange={(event) => onChange(event.target.value)}
      />
      {error ? (
        <span id={`${id}-error`} className="field__error">
          {error}
        </span>
      ) : (
        hint && (
          <span id={`${id}-hint`} className="field__hint">
            {hint}
          </span>
        )
      )}
    </div>
  );
}

function basename(path: string): string {
  return path.trim().replace(/\/+$/, "").split("/").pop() ?? "";
}

/** Accepts `owner/name`, `github.com/owner/name` or a full GitHub URL (with or without `.git`). */
export function parseGitHubName(input: string): { owner: string; name: string } {
  const cleaned = input
    .trim()
    .replace(/^https?:\/\//, "")
    .replace(/^(www\.)?github\.com\//, "")
    .replace(/\.git$/, "")
    .replace(/\/+$/, "");
  const [owner = "", name = ""] = cleaned.split("/");
  return { owner, name };
}
