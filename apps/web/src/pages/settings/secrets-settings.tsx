import { SecretName } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import type { SecretScope } from "../../api/lookout-api";
import { queryKeys, useRepositories, useSecrets } from "../../api/queries";
import { ConfirmDialog } from "../../components/dialog";
import { RelativeTime } from "../../components/relative-time";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";
import { parseDotenv } from "../../lib/dotenv";
import { TextField } from "./repositories-settings";

const GLOBAL = "global";

/** Secrets by name; values go in and never come back out. */
export function SecretsSettings() {
  const [params, setParams] = useSearchParams();
  const repositories = useRepositories();
  const scopeParam = params.get("scope") ?? GLOBAL;
  const scope: SecretScope = scopeParam === GLOBAL ? { kind: "global" } : { kind: "repository", repositoryId: scopeParam };
  const secrets = useSecrets(scope);
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const [deleting, setDeleting] = useState<string | null>(null);
  const [importing, setImporting] = useState(false);
  const scopeName =
    scope.kind === "global"
      ? "every repository"
      : (repositories.data?.find((repository) => repository.id === scope.repositoryId)?.fullName ?? "this repository");

  const refresh = () => queryClient.invalidateQueries({ queryKey: queryKeys.secrets(scope) });

  const remove = async (name: string) => {
    setDeleting(null);
    try {
      await api.deleteSecret(scope, name);
      notify(`Deleted ${name}`, "success");
      await refresh();
    } catch (error) {
      notify(errorMessage(error), "error");
    }
  };

  return (
    <div className="stack stack--lg">
      <div className="row row--between row--wrap">
        <p className="muted">
          Secrets become environment variables in the sandboxes of{" "}
          {scope.kind === "global" ? "every session" : "this repository's sessions"}. They are encrypted at rest and never shown again.
        </p>
        <label className="row">
          <span className="field__label">Scope</span>
          <select
            className="select"
            style={{ width: "auto" }}
            value={scopeParam}
            onChange={(event) => setParams(event.target.value === GLOBAL ? {} : { scope: event.target.value }, { replace: true })}
            aria-label="Secret scope"
          >
            <option value={GLOBAL}>Global (all repositories)</option>
            {repositories.data?.map((repository) => (
              <option key={repository.id} value={repository.id}>
                {repository.fullName}
              </option>
            ))}
          </select>
        </label>
      </div>

      <SetSecretForm
        key={scopeParam}
        scope={scope}
        existing={secrets.data?.map((secret) => secret.name) ?? []}
        onSaved={() => void refresh()}
      />

      {secrets.isLoading ? (
        <LoadingBlock />
      ) : secrets.isError ? (
        <ErrorCallout title="Secrets could not be loaded" error={secrets.error} onRetry={() => void secrets.refetch()} />
      ) : (secrets.data ?? []).length === 0 ? (
        <EmptyState icon="🔑" title="No secrets here">
          <p>Add one above, or import a .env file, for {scopeName}.</p>
        </EmptyState>
      ) : (
        <ul className="card list" aria-label="Secrets">
          {(secrets.data ?? []).map((secret) => (
            <li key={secret.name} className="settings-row">
              <span aria-hidden>🔑</span>
              <span className="grow mono truncate">{secret.name}</span>
              <span className="faint">
                updated <RelativeTime at={secret.updatedAt} />
              </span>
              <button
                type="button"
                className="btn btn--ghost btn--sm"
                onClick={() => setDeleting(secret.name)}
                aria-label={`Delete ${secret.name}`}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}

      <div>
        {importing ? (
          <DotenvImport scope={scope} onDone={() => setImporting(false)} onSaved={() => void refresh()} />
        ) : (
          <button type="button" className="btn btn--ghost" onClick={() => setImporting(true)}>
            Import from a .env file…
          </button>
        )}
      </div>

      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting ?? "secret"}?`}
        message="Sandboxes started from now on no longer get it. This cannot be undone."
        confirmLabel="Delete"
        danger
        onConfirm={() => deleting && void remove(deleting)}
        onCancel={() => setDeleting(null)}
      />
    </div>
  );
}

function SetSecretForm({ scope, existing, onSaved }: { scope: SecretScope; existing: string[]; onSaved: () => void }) {
  const api = useApi();
  const notify = useToast();
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [nameError, setNameError] = useState<string | undefined>();
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const replacing = existing.includes(name.trim());

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const parsedName = SecretName.safeParse(name.trim());
    if (!parsedName.success) {
      setNameError(parsedName.error.issues[0]?.message ?? "Invalid name");
      return;
    }
    if (!value) {
      setNameError(undefined);
      setServerError(new Error("Enter the secret's value."));
      return;
    }
    setNameError(undefined);
    setBusy(true);
    setServerError(null);
    try {
      await api.setSecret(scope, parsedName.data, value);
      notify(`${replacing ? "Updated" : "Saved"} ${parsedName.data}`, "success");
      setName("");
      setValue("");
      onSaved();
    } catch (error) {
      setServerError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={(event) => void submit(event)} aria-label="Set a secret" noValidate>
      <div className="card__body secret-form">
        <TextField
          id="secret-name"
          label="Name"
          value={name}
          onChange={(next) => setName(next.toUpperCase())}
          error={nameError}
          placeholder="NPM_TOKEN"
          mono
        />
        <TextField id="secret-value" label="Value" type="password" value={value} onChange={setValue} placeholder="••••••••" />
        <button type="submit" className="btn btn--primary secret-form__submit" disabled={busy}>
          {busy ? "Saving…" : replacing ? "Replace" : "Save secret"}
        </button>
        {serverError !== null && (
          <div className="secret-form__error">
            <ErrorCallout error={serverError} />
          </div>
        )}
      </div>
    </form>
  );
}

function DotenvImport({ scope, onDone, onSaved }: { scope: SecretScope; onDone: () => void; onSaved: () => void }) {
  const api = useApi();
  const notify = useToast();
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [failures, setFailures] = useState<string[]>([]);
  const parsed = parseDotenv(text);

  const run = async () => {
    setBusy(true);
    const failed: string[] = [];
    for (const entry of parsed.entries) {
      try {
        await api.setSecret(scope, entry.name, entry.value);
      } catch (error) {
        failed.push(`${entry.name}: ${errorMessage(error)}`);
      }
    }
    setBusy(false);
    setFailures(failed);
    onSaved();
    const saved = parsed.entries.length - failed.length;
    if (saved > 0) notify(`Imported ${saved} ${saved === 1 ? "secret" : "secrets"}`, "success");
    if (failed.length === 0) onDone();
  };

  return (
    <div className="card">
      <div className="card__body stack">
        <h2>Import a .env file</h2>
        <label htmlFor="dotenv" className="visually-hidden">
          .env contents
        </label>
        <textarea
          id="dotenv"
          className="textarea mono"
          rows={6}
          placeholder={"API_KEY=…\nDATABASE_URL=…"}
          value={text}
          onChange={(event) => setText(event.target.value)}
          spellCheck={false}
        />
        <div className="faint">
          {parsed.entries.length} {parsed.entries.length === 1 ? "secret" : "secrets"} found
          {parsed.invalidLines.length > 0 && `; lines ${parsed.invalidLines.join(", ")} are not NAME=value and will be skipped`}
        </div>
        {failures.length > 0 && (
          <div className="callout callout--error" role="alert">
            <div className="callout__body">
              <div className="callout__title">Some secrets were not saved</div>
              <ul>
                {failures.map((failure) => (
                  <li key={failure}>{failure}</li>
                ))}
              </ul>
            </div>
          </div>
        )}
        <div className="row" style={{ justifyContent: "flex-end" }}>
          <button type="button" className="btn" onClick={onDone}>
            Cancel
          </button>
          <button type="button" className="btn btn--primary" disabled={busy || parsed.entries.length === 0} onClick={() => void run()}>
            {busy ? "Importing…" : `Import ${parsed.entries.length}`}
          </button>
        </div>
      </div>
    </div>
  );
}
