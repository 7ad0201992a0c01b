import { MAX_CONCURRENT_RUNS_LIMIT, MAX_PROMPT_CHARS, type Automation } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { z } from "zod";
import { errorMessage } from "../../api/api-error";
import { automationKeys, useAutomation } from "../../api/automation-queries";
import { useApi } from "../../api/context";
import { useModels, useRepositories } from "../../api/queries";
import { CronFields } from "../../components/automations/cron-fields";
import { EffortPicker, ModelPicker, RepositoryPicker } from "../../components/pickers";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";
import { useDocumentTitle } from "../../hooks/use-document-title";
import {
  draftFrom,
  emptyDraft,
  localTimeZone,
  patchFrom,
  requestFromDraft,
  TRIGGER_KINDS,
  triggerIcon,
  triggerKindLabel,
  type AutomationDraft,
} from "../../state/automations";
import { TextField } from "../settings/repositories-settings";

/** What the automation page shows once after a webhook automation is created: its new key (navigation state). */
export const IssuedKeyState = z.object({ issuedKey: z.object({ key: z.string(), header: z.string(), url: z.string() }) });
export type IssuedKeyState = z.infer<typeof IssuedKeyState>;

/** `/automations/new` and `/automations/:id/edit`. */
export function AutomationFormPage() {
  const { automationId } = useParams();
  return automationId ? <EditAutomation id={automationId} /> : <AutomationForm automation={null} />;
}

function EditAutomation({ id }: { id: string }) {
  const automation = useAutomation(id);
  if (automation.isLoading) return <LoadingBlock />;
  if (automation.isError || !automation.data) {
    return (
      <div className="page page--narrow">
        <ErrorCallout title="This automation could not be loaded" error={automation.error} onRetry={() => void automation.refetch()} />
      </div>
    );
  }
  return <AutomationForm automation={automation.data} />;
}

function AutomationForm({ automation }: { automation: Automation | null }) {
  const api = useApi();
  const navigate = useNavigate();
  const notify = useToast();
  const queryClient = useQueryClient();
  const repositories = useRepositories();
  const models = useModels();
  const [draft, setDraft] = useState<AutomationDraft>(() =>
    automation ? draftFrom(automation, localTimeZone()) : emptyDraft(localTimeZone()),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useDocumentTitle(automation ? `Edit ${automation.name}` : "New automation");

  if (repositories.isLoading || models.isLoading) return <LoadingBlock />;
  const repositoryList = repositories.data ?? [];
  if (repositoryList.length === 0) {
    return (
      <div className="page">
        <EmptyState icon="📦" title="Register a repository first">
          <p>An automation works on one repository.</p>
          <Link to="/settings/repositories" className="btn btn--primary">
            Add a repository
          </Link>
        </EmptyState>
      </div>
    );
  }
  const repositoryId = draft.repositoryId || repositoryList[0]?.id || "";
  const repository = repositoryList.find((candidate) => candidate.id === repositoryId);
  const update = (patch: Partial<AutomationDraft>) => setDraft((current) => ({ ...current, ...patch }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const checked = requestFromDraft({ ...draft, repositoryId });
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setServerError(null);
    setBusy(true);
    try {
      if (automation) {
        const patch = patchFrom(automation, checked.request);
        if (Object.keys(patch).length > 0) await api.automations.update(automation.id, patch);
        notify(`Saved ${checked.request.name}`, "success");
        void queryClient.invalidateQueries({ queryKey: automationKeys.all });
        void navigate(`/automations/${automation.id}`);
        return;
      }
      const created = await api.automations.create(checked.request);
      void queryClient.invalidateQueries({ queryKey: automationKeys.all });
      notify(`Created ${created.name}`, "success");
      void navigate(`/automations/${created.id}`, { state: created.trigger.kind === "webhook" ? await issueKey(created.id) : null });
    } catch (error) {
      setServerError(error);
      setBusy(false);
    }
  };

  /** The new webhook's key, readable only in this answer; the page it lands on shows it once. */
  const issueKey = async (id: string): Promise<IssuedKeyState | null> => {
    try {
      const issued = await api.automations.issueWebhookKey(id);
      return { issuedKey: { key: issued.key, header: issued.header, url: issued.url } };
    } catch (error) {
      // The automation exists: its page offers "Generate key" again.
      notify(`No key was issued: ${errorMessage(error)}`, "error");
      return null;
    }
  };

  return (
    <div className="page page--narrow">
      <form
        className="card"
        onSubmit={(event) => void submit(event)}
        aria-label={automation ? "Edit automation" : "New automation"}
        noValidate
      >
        <div className="card__body stack">
          <h1>{automation ? `Edit ${automation.name}` : "New automation"}</h1>
          <TextField id="automation-name" label="Name" value={draft.name} onChange={(name) => update({ name })} error={errors.name} />
          <div className="field">
            <label htmlFor="automation-instructions" className="field__label">
              Instructions
            </label>
            <textarea
              id="automation-instructions"
              className="textarea"
              rows={6}
              maxLength={MAX_PROMPT_CHARS}
              placeholder="What each run should do: the task, where to look, how to check it worked…"
              value={draft.instructions}
              aria-invalid={errors.instructions ? true : undefined}
              onChange={(event) => update({ instructions: event.target.value })}
            />
            {errors.instructions && <span className="field__error">{errors.instructions}</span>}
          </div>
          <div className="form-grid">
            <RepositoryPicker
              id="automation-repository"
              label="Repository"
              repositories={repositoryList}
              value={repositoryId}
              onChange={(value) => update({ repositoryId: value })}
            />
            <TextField
              id="automation-branch"
              label="Base branch"
              value={draft.baseBranch}
              onChange={(baseBranch) => update({ baseBranch })}
              placeholder={repository ? `${repository.defaultBranch} (the default)` : "the default branch"}
              error={errors.baseBranch}
              mono
            />
            {models.data && (
              <ModelPicker
                id="automation-model"
                label="Model"
                models={models.data}
                inheritLabel={`Default (${models.data.defaultModel})`}
                value={draft.model}
                onChange={(model) => update({ model })}
              />
            )}
            <EffortPicker
              id="automation-effort"
              label="Reasoning effort"
              value={draft.reasoningEffort}
              onChange={(reasoningEffort) => update({ reasoningEffort })}
            />
          </div>

          <fieldset className="automation-form__trigger">
            <legend className="field__label">Trigger</legend>
            <div className="segmented" role="group" aria-label="Trigger type">
              {TRIGGER_KINDS.map((kind) => (
                <button key={kind} type="button" aria-pressed={draft.triggerKind === kind} onClick={() => update({ triggerKind: kind })}>
                  <span aria-hidden>{triggerIcon(kind)}</span> {triggerKindLabel(kind)}
                </button>
              ))}
            </div>
            {draft.triggerKind === "cron" && (
              <CronFields
                expression={draft.cronExpression}
                timeZone={draft.timeZone}
                error={errors.cronExpression}
                onExpression={(cronExpression) => update({ cronExpression })}
                onTimeZone={(timeZone) => update({ timeZone })}
              />
            )}
            {draft.triggerKind === "webhook" && (
              <p className="faint">
                Runs when something POSTs JSON to the automation&apos;s URL with its key. The URL and the key (shown once) appear after
                saving; conditions and a test payload are set there too.
              </p>
            )}
            {draft.triggerKind === "sentry" && (
              <p className="faint">
                Runs on Sentry alerts and issues. After saving, the automation&apos;s page shows the webhook URL to give Sentry, takes the
                integration&apos;s client secret, and filters by project, environment and level.
              </p>
            )}
            {draft.triggerKind === "manual" && <p className="faint">Runs only when someone presses “Run now”.</p>}
          </fieldset>

          <div className="form-grid">
            <div className="field">
              <label htmlFor="automation-triage" className="field__label">
                When the same subject is already being worked on
              </label>
              <select
                id="automation-triage"
                className="select"
                value={draft.triage}
                onChange={(event) => update({ triage: event.target.value === "duplicate" ? "duplicate" : "follow-up" })}
              >
                <option value="follow-up">Send it to that session as a follow-up</option>
                <option value="duplicate">Record it as a duplicate</option>
              </select>
            </div>
            <TextField
              id="automation-concurrency"
              label={`Runs at once (1–${MAX_CONCURRENT_RUNS_LIMIT})`}
              value={draft.maxConcurrentRuns}
              onChange={(maxConcurrentRuns) => update({ maxConcurrentRuns })}
              error={errors.maxConcurrentRuns}
            />
          </div>
          {serverError !== null && <ErrorCallout title="The automation was not saved" error={serverError} />}
          <div className="row" style={{ justifyContent: "flex-end" }}>
            <Link to={automation ? `/automations/${automation.id}` : "/automations"} className="btn">
              Cancel
            </Link>
            <button type="submit" className="btn btn--primary" disabled={busy}>
              {busy ? "Saving…" : automation ? "Save" : "Create automation"}
            </button>
          </div>
        </div>
      </form>
    </div>
  );
}
