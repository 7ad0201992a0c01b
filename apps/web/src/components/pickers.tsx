import { ReasoningEffort as ReasoningEffortSchema, type ReasoningEffort, type Repository } from "@lookout/protocol";
import type { Models } from "../api/lookout-api";

const EFFORT_LABEL: Record<ReasoningEffort, string> = {
  minimal: "Minimal",
  low: "Low",
  medium: "Medium",
  high: "High",
  max: "Max",
};

export const REASONING_EFFORTS: readonly ReasoningEffort[] = ReasoningEffortSchema.options;

export function parseEffort(value: string): ReasoningEffort | undefined {
  const parsed = ReasoningEffortSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

interface PickerProps {
  value: string;
  onChange: (value: string) => void;
  id?: string;
  size?: "sm" | "md";
  disabled?: boolean;
  label: string;
  /** Hide the visible label (it stays for screen readers). */
  hideLabel?: boolean;
}

function PickerField({
  label,
  hideLabel,
  id,
  children,
}: {
  label: string;
  hideLabel?: boolean | undefined;
  id: string;
  children: React.ReactNode;
}) {
  return (
    <div className="field">
      <label htmlFor={id} className={hideLabel ? "visually-hidden" : "field__label"}>
        {label}
      </label>
      {children}
    </div>
  );
}

export function RepositoryPicker({
  repositories,
  value,
  onChange,
  id = "repository",
  size = "md",
  disabled,
  label,
  hideLabel,
}: PickerProps & { repositories: Repository[] }) {
  return (
    <PickerField label={label} hideLabel={hideLabel} id={id}>
      <select
        id={id}
        className={`select${size === "sm" ? " select--sm" : ""}`}
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
      >
        {value === "" && <option value="">Choose a repository…</option>}
        {repositories.map((repository) => (
          <option key={repository.id} value={repository.id}>
            {repository.fullName}
            {repository.kind === "local" ? " (local)" : ""}
          </option>
        ))}
      </select>
    </PickerField>
  );
}

/** The model picker; `inheritLabel` adds an option meaning "whatever the session uses". */
export function ModelPicker({
  models,
  value,
  onChange,
  id = "model",
  size = "md",
  disabled,
  label,
  hideLabel,
  inheritLabel,
}: PickerProps & { models: Models; inheritLabel?: string }) {
  return (
    <PickerField label={label} hideLabel={hideLabel} id={id}>
      <select
        id={id}
        className={`select${size === "sm" ? " select--sm" : ""}`}
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
      >
        {inheritLabel !== undefined && <option value="">{inheritLabel}</option>}
        {models.models.map((model) => (
          <option key={model.id} value={model.id}>
            {modelOptionLabel(model, model.id === models.defaultModel)}
          </option>
        ))}
      </select>
    </PickerField>
  );
}

/** "Claude Sonnet 4.5 · default", "Offline demo · default": says "offline" once. */
export function modelOptionLabel(model: Models["models"][number], isDefault: boolean): string {
  const notes = [];
  if (model.offline && !/offline/i.test(model.label)) notes.push("offline demo");
  if (isDefault) notes.push("default");
  return notes.length ? `${model.label} · ${notes.join(", ")}` : model.label;
}

export function EffortPicker({ value, onChange, id = "effort", size = "md", disabled, label, hideLabel }: PickerProps) {
  return (
    <PickerField label={label} hideLabel={hideLabel} id={id}>
      <select
        id={id}
        className={`select${size === "sm" ? " select--sm" : ""}`}
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
      >
        <option value="">Default effort</option>
        {REASONING_EFFORTS.map((effort) => (
          <option key={effort} value={effort}>
            {EFFORT_LABEL[effort]} effort
          </option>
        ))}
      </select>
    </PickerField>
  );
}
