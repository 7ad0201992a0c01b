import { useModels } from "../../api/queries";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";

export function ModelsSettings() {
  const models = useModels();
  if (models.isLoading) return <LoadingBlock />;
  if (models.isError) return <ErrorCallout title="Models could not be loaded" error={models.error} onRetry={() => void models.refetch()} />;
  const data = models.data;
  if (!data || data.models.length === 0) {
    return (
      <EmptyState icon="🧠" title="No models configured">
        <p>Set ANTHROPIC_API_KEY, OPENAI_API_KEY or an OpenAI-compatible endpoint where Lookout runs.</p>
      </EmptyState>
    );
  }
  return (
    <div className="stack">
      <p className="muted">
        Models come from the configuration of the server running Lookout. Each session picks one, and each prompt can override it.
      </p>
      <ul className="card list" aria-label="Models">
        {data.models.map((model) => (
          <li key={model.id} className="settings-row">
            <div className="grow">
              <div className="settings-row__title">{model.label}</div>
              <div className="mono faint">{model.id}</div>
            </div>
            {model.offline && (
              <span className="badge badge--amber" title="A scripted model for demos and tests; it does not think">
                Offline demo
              </span>
            )}
            {model.id === data.defaultModel && <span className="badge badge--accent">Default</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}
