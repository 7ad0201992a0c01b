import type { WebhookSettingsView } from "@lookout/protocol";
import { MAX_WEBHOOK_TEMPLATE_CHARS } from "@lookout/protocol";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../../api/api-error";
import { automationKeys, useWebhookSettings } from "../../api/automation-queries";
import { useApi } from "../../api/context";
import {
  conditionsFromDrafts,
  draftFromCondition,
  draftFromIdempotency,
  idempotencyFromDraft,
  type ConditionDraft,
  type IdempotencyDraft,
} from "../../state/trigger-settings";
import { CopyButton } from "../copy-button";
import { ConfirmDialog } from "../dialog";
import { RelativeTime } from "../relative-time";
import { ErrorCallout, LoadingBlock } from "../states";
import { useToast } from "../toasts";
import { ConditionsBuilder } from "./conditions-builder";
import { WebhookTest } from "./webhook-test";

export interface IssuedKey {
  key: string;
  header: string;
  url: string;
}

/** The inbound webhook: its URL and key, the conditions a delivery must meet, and a test box. */
export function WebhookPanel({
  automationId,
  canChange,
  initialKey,
}: {
  automationId: string;
  canChange: boolean;
  initialKey: IssuedKey | null;
}) {
  const settings = useWebhookSettings(automationId, true);
  const [issued, setIssued] = useState<IssuedKey | null>(initialKey);
  if (settings.isLoading) return <LoadingBlock label="Loading the webhook…" />;
  if (settings.isError || !settings.data) {
    return (
      <ErrorCallout title="The webhook's settings could not be loaded" error={settings.error} onRetry={() => void settings.refetch()} />
    );
  }
  return (
    <div className="stack stack--lg">
      <WebhookKey settings={settings.data} canChange={canChange} issued={issued} onIssued={setIssued} />
      <WebhookSettingsForm key={settings.data.updatedAt} settings={settings.data} canChange={canChange} />
    </div>
  );
}

function WebhookKey(props: {
  settings: WebhookSettingsView;
  canChange: boolean;
  issued: IssuedKey | null;
  onIssued: (key: IssuedKey) => void;
}) {
  const { settings, canChange, issued, onIssued } = props;
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  const issue = async () => {
    setConfirming(false);
    setBusy(true);
    try {
      const answer = await api.automations.issueWebhookKey(settings.automationId);
      onIssued({ key: answer.key, header: answer.header, url: answer.url });
      void queryClient.invalidateQueries({ queryKey: automationKeys.webhook(settings.automationId) });
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="stack" aria-label="Webhook URL and key">
      <div className="field">
        <span className="field__label">URL</span>
        <div className="row">
          <code className="mono truncate grow webhook__url">{settings.url}</code>
          <CopyButton text={settings.url} label="Copy URL" />
        </div>
      </div>
      {issued ? (
        <div className="callout callout--warning" role="status" aria-label="New webhook key">
          <div className="callout__body stack" style={{ gap: 6 }}>
            <div className="callout__title">Copy the key now: it is not shown again</div>
            <div className="row">
              <code className="mono truncate grow" data-webhook-key>
                {issued.key}
              </code>
              <CopyButton text={issued.key} label="Copy key" />
            </div>
            <div className="faint">
              Send it in the <span className="mono">{issued.header}</span> header (or <span className="mono">Authorization: Bearer …</span>)
              with a JSON body.
            </div>
          </div>
        </div>
      ) : (
        <p className="faint">
          {settings.keySet && settings.keyCreatedAt !== null ? (
            <>
              A key was issued <RelativeTime at={settings.keyCreatedAt} />; only its hash is kept.
            </>
          ) : (
            "No key yet: deliveries are refused until one is issued."
          )}
        </p>
      )}
      {canChange && (
        <div>
          <button
            type="button"
            className="btn btn--sm"
            disabled={busy}
            onClick={() => (settings.keySet ? setConfirming(true) : void issue())}
          >
            {busy ? "Issuing…" : settings.keySet ? "Regenerate key" : "Generate key"}
          </button>
        </div>
      )}
      <ConfirmDialog
        open={confirming}
        title="Regenerate the webhook key?"
        message="The current key stops working at once; senders need the new one."
        confirmLabel="Regenerate"
        danger
        onConfirm={() => void issue()}
        onCancel={() => setConfirming(false)}
      />
    </section>
  );
}

function WebhookSettingsForm({ settings, canChange }: { settings: WebhookSettingsView; canChange: boolean }) {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const initialRows = settings.conditions.map(draftFromCondition);
  const initialIdempotency = draftFromIdempotency(settings.idempotency);
  const [rows, setRows] = useState<ConditionDraft[]>(initialRows);
  const [idempotency, setIdempotency] = useState<IdempotencyDraft>(initialIdempotency);
  const [template, setTemplate] = useState(settings.template ?? "");
  const [errors, setErrors] = useState<ReadonlyMap<number, string>>(new Map());
  const [idempotencyError, setIdempotencyError] = useState<string | null>(null);
  const [serverError, setServerError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const dirty =
    JSON.stringify(rows) !== JSON.stringify(initialRows) ||
    JSON.stringify(idempotency) !== JSON.stringify(initialIdempotency) ||
    template !== (settings.template ?? "");

  const save = async () => {
    const checked = conditionsFromDrafts(rows);
    const key = idempotencyFromDraft(idempotency);
    setErrors(checked.errors);
    setIdempotencyError(key.ok ? null : key.error);
    if (checked.errors.size > 0 || !key.ok) return;
    setBusy(true);
    setServerError(null);
    try {
      const saved = await api.automations.putWebhookSettings(settings.automationId, {
        conditions: checked.conditions,
        idempotency: key.value,
        template: template.trim() ? template : null,
      });
      queryClient.setQueryData(automationKeys.webhook(settings.automationId), saved);
      notify("Webhook settings saved", "success");
    } catch (error) {
      setServerError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="stack stack--lg">
      <section className="stack" aria-label="Webhook conditions">
        <h3 className="details__heading">Conditions</h3>
        <ConditionsBuilder rows={rows} errors={errors} disabled={!canChange} onChange={setRows} />
      </section>
      <section className="form-grid" aria-label="Idempotency">
        <div className="field">
          <label htmlFor="webhook-idempotency" className="field__label">
            Idempotency key from
          </label>
          <select
            id="webhook-idempotency"
            className="select"
            value={idempotency.from}
            disabled={!canChange}
            onChange={(event) => setIdempotency({ from: idempotencyFrom(event.target.value), value: "" })}
          >
            <option value="default">The Idempotency-Key header, when sent</option>
            <option value="header">Another header</option>
            <option value="jsonpath">A value in the payload</option>
          </select>
        </div>
        {idempotency.from !== "default" && (
          <div className="field">
            <label htmlFor="webhook-idempotency-value" className="field__label">
              {idempotency.from === "header" ? "Header name" : "JSONPath"}
            </label>
            <input
              id="webhook-idempotency-value"
              className="input mono"
              value={idempotency.value}
              placeholder={idempotency.from === "header" ? "X-GitHub-Delivery" : "$.id"}
              disabled={!canChange}
              aria-invalid={idempotencyError ? true : undefined}
              onChange={(event) => setIdempotency({ ...idempotency, value: event.target.value })}
            />
            {idempotencyError && <span className="field__error">{idempotencyError}</span>}
          </div>
        )}
      </section>
      <div className="field">
        <label htmlFor="webhook-template" className="field__label">
          Payload in the prompt
        </label>
        <textarea
          id="webhook-template"
          className="textarea mono"
          rows={3}
          maxLength={MAX_WEBHOOK_TEMPLATE_CHARS}
          placeholder="Empty: the whole payload as JSON. Or a template such as: Issue {{$.issue.title}} was {{$.action}}"
          value={template}
          disabled={!canChange}
          onChange={(event) => setTemplate(event.target.value)}
        />
        <span className="field__hint">It reaches the agent inside a block marked as untrusted input, after the instructions.</span>
      </div>
      {serverError !== null && <ErrorCallout title="The settings were not saved" error={serverError} />}
      {canChange && (
        <div className="row" style={{ justifyContent: "flex-end" }}>
          <button type="button" className="btn btn--primary" disabled={busy || !dirty} onClick={() => void save()}>
            {busy ? "Saving…" : "Save webhook settings"}
          </button>
        </div>
      )}
      <WebhookTest automationId={settings.automationId} unsaved={dirty} />
    </div>
  );
}

function idempotencyFrom(value: string): IdempotencyDraft["from"] {
  return value === "header" || value === "jsonpath" ? value : "default";
}
