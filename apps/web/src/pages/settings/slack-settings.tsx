import { SlackChannelId, SlackSettingsView } from "@lookout/protocol";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import { useRepositories } from "../../api/queries";
import { RelativeTime } from "../../components/relative-time";
import { EmptyState, ErrorCallout, LoadingBlock } from "../../components/states";
import { useToast } from "../../components/toasts";
import { SlackCredentialsForm } from "./slack-credentials";

const SettingsResponse = z.object({ settings: SlackSettingsView });
const SLACK_SETTINGS_KEY = ["slack-settings"] as const;

/**
 * Settings → Slack: whether Slack is connected (what to set when not), the workspace and bot, the
 * mode (Socket Mode through the relay, or the Events API), and each channel's default repository.
 */
export function SlackSettings() {
  const api = useApi();
  const queryClient = useQueryClient();
  const notify = useToast();
  const settings = useQuery({
    queryKey: SLACK_SETTINGS_KEY,
    queryFn: async ({ signal }) => (await api.http.get("/api/slack/settings", { schema: SettingsResponse, signal })).settings,
  });
  const repositories = useRepositories();
  const [channel, setChannel] = useState("");
  const [repositoryId, setRepositoryId] = useState("");
  const [busy, setBusy] = useState(false);

  if (settings.isLoading || repositories.isLoading) return <LoadingBlock />;
  if (settings.isError) {
    return <ErrorCallout title="Slack settings could not be loaded" error={settings.error} onRetry={() => void settings.refetch()} />;
  }
  const view = settings.data;
  if (!view) return null;
  const repos = repositories.data ?? [];
  const nameOf = (id: string) => repos.find((repository) => repository.id === id)?.fullName ?? id;
  const channelValid = SlackChannelId.safeParse(channel.trim()).success;

  const run = async (work: () => Promise<unknown>, done: string): Promise<boolean> => {
    setBusy(true);
    try {
      await work();
      notify(done, "success");
      await queryClient.invalidateQueries({ queryKey: SLACK_SETTINGS_KEY });
      return true;
    } catch (error) {
      notify(errorMessage(error), "error");
      return false;
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="stack stack--lg">
      <p className="muted">
        Mention @Lookout in a channel or write to it in a DM to start a session; it follows along in the thread. Setup: docs/slack.md.
      </p>

      {!view.configured ? (
        <EmptyState icon="💬" title="Slack is not connected">
          {view.source === "dashboard" ? (
            <p>
              The pasted tokens are for Socket Mode, which also needs {view.missing.join(" and ")} where Lookout runs (the start command
              sets it); set it and restart. Until then every Slack request is refused.
            </p>
          ) : (
            <p>
              Paste the tokens below, or set {view.missing.join(" and ")} where Lookout runs (for Socket Mode also SLACK_APP_TOKEN) and
              restart. Until then every Slack request is refused.
            </p>
          )}
        </EmptyState>
      ) : (
        <ul className="card list" aria-label="Slack connection">
          <li className="settings-row">
            <div className="grow">
              <div className="settings-row__title">{view.workspace ? view.workspace.teamName : "Workspace not seen yet"}</div>
              <div className="faint truncate">
                {view.workspace ? (
                  <>
                    <span className="mono">{view.workspace.teamId}</span> · bot @{view.workspace.botName} ·{" "}
                  </>
                ) : (
                  "Recorded on the first event, or connect now · "
                )}
                {view.mode === "socket" ? "Socket Mode (relay)" : "Events API (HTTPS)"} · tokens from{" "}
                {view.source === "dashboard" ? "the dashboard" : "the environment"} · thread replies:{" "}
                {view.threadReplies === "any" ? "every reply" : "replies that mention Lookout"}
              </div>
            </div>
            {view.workspace && (
              <span className="faint hide-narrow">
                connected <RelativeTime at={view.workspace.connectedAt} />
              </span>
            )}
            <button
              type="button"
              className="btn btn--ghost btn--sm"
              disabled={busy}
              onClick={() => void run(() => api.http.post("/api/slack/connect", { schema: SettingsResponse }), "Connected to Slack")}
            >
              {view.workspace ? "Check again" : "Connect"}
            </button>
          </li>
        </ul>
      )}

      <SlackCredentialsForm
        view={view}
        busy={busy}
        onSave={(request) =>
          run(() => api.http.put("/api/slack/credentials", { body: request, schema: SettingsResponse }), "Slack accepted the tokens; saved")
        }
        onRemove={() => run(() => api.http.delete("/api/slack/credentials", { schema: SettingsResponse }), "Removed the Slack tokens")}
      />

      <section className="stack" aria-label="Channel defaults">
        <h2>Default repository per channel</h2>
        <p className="muted">
          A mention that names no repository (<span className="mono">repo:owner/name</span>) works in its channel&apos;s default. In Slack:{" "}
          <span className="mono">/lookout repo owner/name</span>.
        </p>
        {view.channelDefaults.length > 0 && (
          <ul className="card list" aria-label="Slack channel defaults">
            {view.channelDefaults.map((entry) => (
              <li key={`${entry.teamId}:${entry.channelId}`} className="settings-row">
                <span className="mono grow">{entry.channelId}</span>
                <span>{nameOf(entry.repositoryId)}</span>
              </li>
            ))}
          </ul>
        )}
        <div className="row">
          <input
            className="input"
            aria-label="Channel id"
            placeholder="C0123ABCD"
            value={channel}
            onChange={(event) => setChannel(event.target.value)}
          />
          <select className="select" aria-label="Repository" value={repositoryId} onChange={(event) => setRepositoryId(event.target.value)}>
            <option value="">Repository…</option>
            {repos.map((repository) => (
              <option key={repository.id} value={repository.id}>
                {repository.fullName}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="btn btn--primary"
            disabled={busy || !channelValid || !repositoryId || !view.workspace}
            onClick={() =>
              void run(
                () =>
                  api.http.put(`/api/slack/channels/${encodeURIComponent(channel.trim())}`, {
                    body: { repositoryId },
                    schema: SettingsResponse,
                  }),
                "Saved the channel's default repository",
              )
            }
          >
            Set default
          </button>
        </div>
      </section>
    </div>
  );
}
