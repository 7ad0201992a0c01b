import { CONDITION_OPS, EMPTY_CONDITION, opTakesValue, type ConditionDraft, type ConditionOp } from "../../state/trigger-settings";

export interface ConditionsBuilderProps {
  rows: ConditionDraft[];
  errors: ReadonlyMap<number, string>;
  disabled: boolean;
  onChange: (rows: ConditionDraft[]) => void;
}

/** JSONPath conditions on the payload, one per row; every one must hold for a delivery to start work. */
export function ConditionsBuilder({ rows, errors, disabled, onChange }: ConditionsBuilderProps) {
  const set = (index: number, patch: Partial<ConditionDraft>) =>
    onChange(rows.map((row, at) => (at === index ? { ...row, ...patch } : row)));
  return (
    <div className="conditions" role="group" aria-label="Conditions">
      {rows.length === 0 && <p className="faint">No conditions: every delivery starts work.</p>}
      {rows.map((row, index) => {
        const error = errors.get(index);
        const n = index + 1;
        return (
          <div key={index} className="conditions__row" data-condition-row={n}>
            <label className="visually-hidden" htmlFor={`condition-path-${n}`}>
              Condition {n} path
            </label>
            <input
              id={`condition-path-${n}`}
              className="input input--sm mono"
              value={row.path}
              placeholder="$.action"
              spellCheck={false}
              autoComplete="off"
              disabled={disabled}
              aria-invalid={error ? true : undefined}
              onChange={(event) => set(index, { path: event.target.value })}
            />
            <label className="visually-hidden" htmlFor={`condition-op-${n}`}>
              Condition {n} test
            </label>
            <select
              id={`condition-op-${n}`}
              className="select select--sm"
              value={row.op}
              disabled={disabled}
              onChange={(event) => set(index, { op: opFrom(event.target.value) })}
            >
              {CONDITION_OPS.map((entry) => (
                <option key={entry.op} value={entry.op}>
                  {entry.label}
                </option>
              ))}
            </select>
            <label className="visually-hidden" htmlFor={`condition-value-${n}`}>
              Condition {n} value
            </label>
            <input
              id={`condition-value-${n}`}
              className="input input--sm mono"
              value={opTakesValue(row.op) ? row.value : ""}
              placeholder={row.op === "one_of" ? "opened, reopened" : opTakesValue(row.op) ? "opened" : "—"}
              spellCheck={false}
              autoComplete="off"
              disabled={disabled || !opTakesValue(row.op)}
              onChange={(event) => set(index, { value: event.target.value })}
            />
            <button
              type="button"
              className="btn btn--ghost btn--sm"
              disabled={disabled}
              aria-label={`Remove condition ${n}`}
              onClick={() => onChange(rows.filter((_, at) => at !== index))}
            >
              ✕
            </button>
            {error && (
              <span className="field__error conditions__error" role="alert">
                Condition {n}: {error}
              </span>
            )}
          </div>
        );
      })}
      <div>
        <button
          type="button"
          className="btn btn--ghost btn--sm"
          disabled={disabled}
          onClick={() => onChange([...rows, { ...EMPTY_CONDITION }])}
        >
          + Add condition
        </button>
      </div>
      <p className="field__hint">
        Paths are JSONPath (<span className="mono">$.pull_request.labels[*].name</span>, <span className="mono">$..id</span>); values are
        text, or JSON for numbers, <span className="mono">true</span>, <span className="mono">null</span> and{" "}
        <span className="mono">&quot;quoted&quot;</span> strings. “is one of” takes a comma-separated list.
      </p>
    </div>
  );
}

function opFrom(value: string): ConditionOp {
  return CONDITION_OPS.find((entry) => entry.op === value)?.op ?? "equals";
}
