import { useMemo } from "react";
import { useCronPreview } from "../../api/automation-queries";
import { useDebouncedValue } from "../../hooks/use-debounced-value";
import { formatInZone, timeZoneOptions } from "../../state/automations";
import { ErrorCallout, Spinner } from "../states";

/** Typing in the expression waits this long before asking for a preview. */
const PREVIEW_DEBOUNCE_MS = 300;

export interface CronFieldsProps {
  expression: string;
  timeZone: string;
  error: string | undefined;
  onExpression: (value: string) => void;
  onTimeZone: (value: string) => void;
}

/** The schedule: a five-field expression, its time zone, and the next runs as the server computes them. */
export function CronFields({ expression, timeZone, error, onExpression, onTimeZone }: CronFieldsProps) {
  const zones = useMemo(() => timeZoneOptions(timeZone), [timeZone]);
  const debounced = useDebouncedValue(expression.trim(), PREVIEW_DEBOUNCE_MS);
  const preview = useCronPreview(debounced, timeZone);
  return (
    <div className="cron-fields">
      <div className="field">
        <label htmlFor="cron-expression" className="field__label">
          Cron expression
        </label>
        <input
          id="cron-expression"
          className="input mono"
          value={expression}
          spellCheck={false}
          autoComplete="off"
          placeholder="0 9 * * 1-5"
          aria-invalid={error ? true : undefined}
          aria-describedby="cron-expression-hint"
          onChange={(event) => onExpression(event.target.value)}
        />
        <span id="cron-expression-hint" className={error ? "field__error" : "field__hint"}>
          {error ?? "minute hour day-of-month month day-of-week"}
        </span>
      </div>
      <div className="field">
        <label htmlFor="cron-time-zone" className="field__label">
          Time zone
        </label>
        <select id="cron-time-zone" className="select" value={timeZone} onChange={(event) => onTimeZone(event.target.value)}>
          {zones.map((zone) => (
            <option key={zone} value={zone}>
              {zone}
            </option>
          ))}
        </select>
      </div>
      <section className="cron-preview" aria-label="Next runs" aria-live="polite">
        <div className="row field__label">Next runs {preview.isFetching && <Spinner label="Computing the next runs" />}</div>
        {debounced === "" ? (
          <p className="faint">Enter an expression to see when it runs.</p>
        ) : preview.isError ? (
          <ErrorCallout error={preview.error} />
        ) : preview.data ? (
          <ol className="cron-preview__list">
            {preview.data.nextRuns.map((at) => (
              <li key={at} className="mono">
                <time dateTime={new Date(at).toISOString()}>{formatInZone(at, timeZone)}</time>
              </li>
            ))}
          </ol>
        ) : null}
      </section>
    </div>
  );
}
