import type { TestWebhookResponse } from "@lookout/protocol";
import { useState } from "react";
import { useApi } from "../../api/context";
import { opLabel, parsePayload } from "../../state/trigger-settings";
import { ErrorCallout } from "../states";

const SAMPLE_PAYLOAD = '{\n  "action": "opened",\n  "issue": { "title": "Checkout fails on Safari", "labels": ["bug"] }\n}';

/** Evaluates a sample payload against the saved conditions and shows which hold; nothing starts. */
export function WebhookTest({ automationId, unsaved }: { automationId: string; unsaved: boolean }) {
  const api = useApi();
  const [text, setText] = useState(SAMPLE_PAYLOAD);
  const [result, setResult] = useState<TestWebhookResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async () => {
    const payload = parsePayload(text);
    if (!payload.ok) {
      setResult(null);
      setError(new Error(payload.error));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setResult(await api.automations.testWebhook(automationId, payload.value));
    } catch (caught) {
      setResult(null);
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="stack" aria-label="Test payload">
      <h3 className="details__heading">Test a payload</h3>
      <label htmlFor="webhook-test-payload" className="visually-hidden">
        Sample payload (JSON)
      </label>
      <textarea
        id="webhook-test-payload"
        className="textarea mono"
        rows={6}
        spellCheck={false}
        value={text}
        onChange={(event) => setText(event.target.value)}
      />
      <div className="row row--wrap">
        <button type="button" className="btn" disabled={busy} onClick={() => void run()}>
          {busy ? "Testing…" : "Test payload"}
        </button>
        {unsaved && <span className="faint">The test uses the saved conditions; save your changes to test them.</span>}
      </div>
      {error !== null && <ErrorCallout error={error} />}
      {result && (
        <div className="webhook-test__result" role="status" aria-label="Test result">
          <div className={`callout ${result.matched ? "callout--info" : "callout--warning"}`}>
            <div className="callout__body">
              <div className="callout__title">
                {result.matched ? "A delivery like this starts a run" : "A delivery like this starts nothing"}
              </div>
              {result.idempotencyKey && (
                <div>
                  Idempotency key: <span className="mono">{result.idempotencyKey}</span>
                </div>
              )}
            </div>
          </div>
          {result.conditions.length > 0 && (
            <ul className="list webhook-test__conditions" aria-label="Condition results">
              {result.conditions.map((entry, index) => (
                <li key={index} className="row" data-matched={entry.matched}>
                  <span className={`badge ${entry.matched ? "badge--green" : "badge--red"}`}>
                    {entry.matched ? "✓ matched" : "✗ no match"}
                  </span>
                  <span className="mono truncate">
                    {entry.condition.path} {opLabel(entry.condition.op)}
                    {"value" in entry.condition ? ` ${JSON.stringify(entry.condition.value)}` : ""}
                  </span>
                  <span className="faint truncate grow" title={JSON.stringify(entry.selected)}>
                    {entry.error ?? `selected ${entry.selected.length === 0 ? "nothing" : JSON.stringify(entry.selected)}`}
                  </span>
                </li>
              ))}
            </ul>
          )}
          <details>
            <summary>What the prompt would carry</summary>
            <pre className="mono webhook-test__rendered">{result.rendered}</pre>
          </details>
        </div>
      )}
    </section>
  );
}
