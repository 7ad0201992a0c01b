import { type LinearMappingRule, LinearRuleKind, LinearSettingsView } from "@lookout/protocol";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { z } from "zod";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import { useRepositories } from "../../api/queries";
import { RelativeTime } from "../../components/relative-time";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";

const SettingsResponse = z.object({ settings: LinearSettingsView });
const RulesResponse = z.object({ rules: z.array(z.object({ kind: LinearRuleKind, value: z.string(), repositoryId: z.string() })) });
const LINEAR_SETTINGS_KEY = ["linear-settings"] as const;

const KIND_LABELS: Record<LinearMappingRule["kind"], string> = { team: "Team key", project: "Project id", label: "Label" };

/**
 * Settings → Linear: the connected workspace (or the button that installs Lookout as a Linear app),
 * the webhook URL to give Linear, and the team/project/label → repository rules.
 */
export function LinearSettings() {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const settings = useQuery({
    queryKey: LINEAR_SETTINGS_KEY,
    queryFn: async ({ signal }) => (await api.http.get("/api/linear/settings", { schema: SettingsResponse, signal })).settings,
  });
  const repositories = useRepositories();
  const [rules, setRules] = useState<LinearMappingRule[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (settings.data) setRules(settings.data.rules);
  }, [settings.data]);

  if (settings.isLoading || repositories.isLoading) return <LoadingBlock />;
  if (settings.isError) {
    return <ErrorCallout title="Linear settings could not be loaded" error={settings.error} onRetry={() => void settings.refetch()} />;
  }
  const view = settings.data;
  if (!view) return null;
  const repos = repositories.data ?? [];

  const save = async () => {
    setBusy(true);
    try {
      const saved = await api.http.put("/api/linear/mappings", { body: { rules }, schema: RulesResponse });
      setRules(saved.rules);
      notify("Saved the Linear rules", "success");
      await queryClient.invalidateQueries({ queryKey: LINEAR_SETTINGS_KEY });
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setBusy(false);
    }
  };

  const disconnect = async (organizationId: string) => {
    try {
      await api.http.delete(`/api/linear/connections/${encodeURIComponent(organizationId)}`);
      notify("Disconnected the Linear workspace", "success");
      await queryClient.invalidateQueries({ queryKey: LINEAR_SETTINGS_KEY });
    } catch (error) {
      notify(errorMessage(error), "error");
    }
  };

  const update = (index: number, patch: Partial<LinearMappingRule>) =>
    setRules((current) => current.map((rule, i) => (i === index ? { ...rule, ...patch } : rule)));

  return (
    <div className="stack stack--lg">
      <p className="muted">
        Mention or assign Lookout on a Linear issue to start a session that reports back in Linear. Give Linear this webhook URL:{" "}
        <span className="mono">{view.webhookUrl}</span>
      </p>

      {view.connections.length === 0 ? (
        <EmptyState icon="🔗" title="No Linear workspace connected">
          {view.installUrl ? (
            <a className="btn btn--primary" href={view.installUrl}>
              Connect Linear
            </a>
          ) : (
            <p>Set LINEAR_CLIENT_ID, LINEAR_CLIENT_SECRET and LINEAR_WEBHOOK_SECRET where Lookout runs, then connect from here.</p>
          )}
        </EmptyState>
      ) : (
        <ul className="card list" aria-label="Connected Linear workspaces">
          {view.connections.map((connection) => (
            <li key={connection.organizationId} className="settings-row">
              <div className="grow">
                <div className="settings-row__title">{connection.organizationName}</div>
                <div className="faint truncate">
                  <span className="mono">{connection.organizationId}</span> · {connection.scopes.join(", ")}
                </div>
              </div>
              <span className="faint hide-narrow">
                connected <RelativeTime at={connection.connectedAt} />
              </span>
              <button type="button" className="btn btn--ghost btn--sm" onClick={() => void disconnect(connection.organizationId)}>
                Disconnect
              </button>
            </li>
          ))}
        </ul>
      )}

      <section className="stack" aria-label="Repository rules">
        <h2>Which repository an issue works in</h2>
        <p className="muted">
          A label rule wins over a project rule, a project rule over a team rule. Without a match Lookout asks Linear for a suggestion, then
          asks in Linear; the answer is remembered for the issue.
        </p>
        {rules.length > 0 && (
          <ul className="card list" aria-label="Linear repository rules">
            {rules.map((rule, index) => (
              <li key={index} className="settings-row">
                <select
                  className="select"
                  aria-label="Match on"
                  value={rule.kind}
                  onChange={(event) => update(index, { kind: LinearRuleKind.parse(event.target.value) })}
                >
                  {LinearRuleKind.options.map((kind) => (
                    <option key={kind} value={kind}>
                      {KIND_LABELS[kind]}
                    </option>
                  ))}
                </select>
                <input
                  className="input grow"
                  aria-label="Value"
                  value={rule.value}
                  placeholder={rule.kind === "team" ? "ENG" : rule.kind === "project" ? "project id" : "backend"}
                  onChange={(event) => update(index, { value: event.target.value })}
                />
                <select
                  className="select"
                  aria-label="Repository"
                  value={rule.repositoryId}
                  onChange={(event) => update(index, { repositoryId: event.target.value })}
                >
                  {repos.map((repository) => (
                    <option key={repository.id} value={repository.id}>
                      {repository.fullName}
                    </option>
                  ))}
                </select>
                <button
                  type="button"
                  className="btn btn--ghost btn--sm"
                  aria-label={`Remove the ${KIND_LABELS[rule.kind]} rule`}
                  onClick={() => setRules((current) => current.filter((_, i) => i !== index))}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        <div className="row">
          <button
            type="button"
            className="btn btn--ghost"
            disabled={repos.length === 0}
            onClick={() => setRules((current) => [...current, { kind: "team", value: "", repositoryId: repos[0]?.id ?? "" }])}
          >
            Add rule
          </button>
          <button type="button" className="btn btn--primary" disabled={busy} onClick={() => void save()}>
            Save rules
          </button>
        </div>
      </section>
    </div>
  );
}
