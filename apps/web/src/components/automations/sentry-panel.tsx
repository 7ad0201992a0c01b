import { SentryLevel, SentryResource, type SentrySettingsView } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { automationKeys, useSentrySettings } from "../../api/automation-queries";
import { useApi } from "../../api/context";
import { draftFromSentryConditions, sentryConditionsFromDraft, type SentryConditionsDraft } from "../../state/trigger-settings";
import { CopyButton } from "../copy-button";
import { ErrorCallout, LoadingBlock } from "../states";
import { useToast } from "../toasts";

/** Shortest client secret the server accepts (Sentry's are 64 hex characters). */
const MIN_CLIENT_SECRET_CHARS = 16;

/** Sentry: the URL to give Sentry, its client secret, which alerts start work, and how to set it up. */
export function SentryPanel({ automationId, canChange }: { automationId: string; canChange: boolean }) {
  const settings = useSentrySettings(automationId, true);
  if (settings.isLoading) return <LoadingBlock label="Loading the Sentry settings…" />;
  if (settings.isError || !settings.data) {
    return <ErrorCallout title="The Sentry settings could not be loaded" error={settings.error} onRetry={() => void settings.refetch()} />;
  }
  return (
    <div className="stack stack--lg">
      <SentrySetup url={settings.data.url} />
      <SentryForm key={settings.data.updatedAt} settings={settings.data} canChange={canChange} />
    </div>
  );
}

function SentrySetup({ url }: { url: string }) {
  return (
    <section className="stack" aria-label="Sentry setup">
      <div className="field">
        <span className="field__label">Webhook URL</span>
        <div className="row">
          <code className="mono truncate grow webhook__url">{url}</code>
          <CopyButton text={url} label="Copy URL" />
        </div>
      </div>
      <ol className="sentry-steps">
        <li>
          In Sentry, open <strong>Settings → Developer Settings</strong> (Custom Integrations), choose{" "}
          <strong>Create New Integration</strong> and pick <strong>Internal Integration</strong>.
        </li>
        <li>
          Paste the URL above as its <strong>Webhook URL</strong> and turn on <strong>Alert Rule Action</strong>.
        </li>
        <li>
          Give it <strong>Read</strong> access to <strong>Issue &amp; Event</strong>, tick the <strong>issue</strong> webhook, and save.
        </li>
        <li>
          Copy the integration&apos;s <strong>Client Secret</strong> into the field below: Lookout checks each delivery&apos;s signature
          with it.
        </li>
        <li>
          In each alert rule that should start work, add the action <strong>Send a notification via an integration</strong> and pick this
          integration.
        </li>
      </ol>
    </section>
  );
}

function SentryForm({ settings, canChange }: { settings: SentrySettingsView; canChange: boolean }) {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<SentryConditionsDraft>(() => draftFromSentryConditions(settings.conditions));
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    const conditions = sentryConditionsFromDraft(draft);
    if (!conditions.ok) return setError(conditions.error);
    if (secret && secret.length < MIN_CLIENT_SECRET_CHARS)
      return setError(`The client secret has at least ${MIN_CLIENT_SECRET_CHARS} characters.`);
    if (!secret && !settings.clientSecretSet) return setError("Paste the integration's client secret first.");
    setError(null);
    setServerError(null);
    setBusy(true);
    try {
      const saved = await api.automations.putSentrySettings(settings.automationId, {
        conditions: conditions.value,
        ...(secret ? { clientSecret: secret } : {}),
      });
      queryClient.setQueryData(automationKeys.sentry(settings.automationId), saved);
      notify("Sentry settings saved", "success");
    } catch (caught) {
      setServerError(caught);
    } finally {
      setBusy(false);
    }
  };

  const toggle = <T,>(list: T[], value: T) => (list.includes(value) ? list.filter((item) => item !== value) : [...list, value]);

  return (
    <section className="stack" aria-label="Sentry settings">
      <div className="field">
        <label htmlFor="sentry-secret" className="field__label">
          Client secret
        </label>
        <input
          id="sentry-secret"
          className="input mono"
          type="password"
          autoComplete="off"
          value={secret}
          disabled={!canChange}
          placeholder={settings.clientSecretSet ? "Saved (leave empty to keep it)" : "Paste the integration's client secret"}
          onChange={(event) => setSecret(event.target.value)}
        />
        <span className="field__hint">Encrypted at rest and never shown again.</span>
      </div>
      <fieldset className="stack" style={{ gap: 6 }}>
        <legend className="field__label">Resources (none ticked: all)</legend>
        <div className="row row--wrap">
          {SentryResource.options.map((resource) => (
            <label key={resource} className="row checkbox" style={{ gap: 4 }}>
              <input
                type="checkbox"
                checked={draft.resources.includes(resource)}
                disabled={!canChange}
                onChange={() => setDraft({ ...draft, resources: toggle(draft.resources, resource) })}
              />
              <span className="mono">{resource}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset className="stack" style={{ gap: 6 }}>
        <legend className="field__label">Levels (none ticked: all)</legend>
        <div className="row row--wrap">
          {SentryLevel.options.map((level) => (
            <label key={level} className="row checkbox" style={{ gap: 4 }}>
              <input
                type="checkbox"
                checked={draft.levels.includes(level)}
                disabled={!canChange}
                onChange={() => setDraft({ ...draft, levels: toggle(draft.levels, level) })}
              />
              {level}
            </label>
          ))}
        </div>
      </fieldset>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="sentry-projects" className="field__label">
            Projects
          </label>
          <input
            id="sentry-projects"
            className="input mono"
            value={draft.projects}
            disabled={!canChange}
            placeholder="Any project (or: web, api, 4505…)"
            onChange={(event) => setDraft({ ...draft, projects: event.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="sentry-environments" className="field__label">
            Environments
          </label>
          <input
            id="sentry-environments"
            className="input mono"
            value={draft.environments}
            disabled={!canChange}
            placeholder="Any environment (or: production, staging)"
            onChange={(event) => setDraft({ ...draft, environments: event.target.value })}
          />
        </div>
      </div>
      <p className="field__hint">
        A delivery without a filtered field (an issue webhook carries no environment) does not pass that filter: conditions fail closed.
      </p>
      {error && (
        <span className="field__error" role="alert">
          {error}
        </span>
      )}
      {serverError !== null && <ErrorCallout title="The Sentry settings were not saved" error={serverError} />}
      {canChange && (
        <div className="row" style={{ justifyContent: "flex-end" }}>
          <button type="button" className="btn btn--primary" disabled={busy} onClick={() => void save()}>
            {busy ? "Saving…" : "Save Sentry settings"}
          </button>
        </div>
      )}
    </section>
  );
}
