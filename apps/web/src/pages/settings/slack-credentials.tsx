import { PutSlackCredentialsRequest, type SlackSettingsView } from "@lookout/protocol";
import { useState } from "react";
import { TextField } from "./repositories-settings";

/**
 * Settings → Slack → Tokens: paste, replace or remove the bot token, signing secret and (for Socket
 * Mode) the app-level token. They are checked with Slack before they are stored, sealed, and never
 * shown again: only their last four characters come back.
 */
export function SlackCredentialsForm({
  view,
  busy,
  onSave,
  onRemove,
}: {
  view: SlackSettingsView;
  busy: boolean;
  onSave: (request: PutSlackCredentialsRequest) => Promise<boolean>;
  onRemove: () => Promise<unknown>;
}) {
  const [botToken, setBotToken] = useState("");
  const [signingSecret, setSigningSecret] = useState("");
  const [appToken, setAppToken] = useState("");
  const stored = view.storedCredentials;
  const parsed = PutSlackCredentialsRequest.safeParse({
    botToken,
    signingSecret,
    ...(appToken.trim() ? { appToken } : {}),
  });
  const problem = parsed.success || (!botToken && !signingSecret) ? null : parsed.error.issues[0]?.message;

  const save = async () => {
    if (!parsed.success) return;
    if (await onSave(parsed.data)) {
      setBotToken("");
      setSigningSecret("");
      setAppToken("");
    }
  };

  return (
    <section className="stack" aria-label="Slack tokens">
      <h2>Tokens</h2>
      <p className="muted">
        {stored ? (
          <>
            Stored for <strong>{stored.teamName}</strong> (bot @{stored.botName}): bot token{" "}
            <span className="mono">…{stored.botTokenLast4}</span>
            {stored.appTokenLast4 ? (
              <>
                , app-level token <span className="mono">…{stored.appTokenLast4}</span> (Socket Mode)
              </>
            ) : (
              " (Events API)"
            )}
            .{" "}
            {view.source === "environment"
              ? "SLACK_BOT_TOKEN is set where Lookout runs, and the environment's tokens win over these."
              : "Paste new ones to replace them."}
          </>
        ) : (
          <>
            Paste the tokens from your Slack app (docs/slack.md), or set them where Lookout runs; the environment wins when both are set.
            Add the app-level token for Socket Mode.
          </>
        )}
      </p>
      <TextField id="slack-bot-token" label="Bot token" type="password" mono placeholder="xoxb-…" value={botToken} onChange={setBotToken} />
      <TextField
        id="slack-signing-secret"
        label="Signing secret"
        type="password"
        mono
        placeholder="32 hexadecimal characters"
        value={signingSecret}
        onChange={setSigningSecret}
      />
      <TextField
        id="slack-app-token"
        label="App-level token (Socket Mode, optional)"
        type="password"
        mono
        placeholder="xapp-…"
        value={appToken}
        onChange={setAppToken}
        hint="Checked with Slack, encrypted at rest and never shown again."
      />
      {problem && (
        <p className="field__error" role="alert">
          {problem}
        </p>
      )}
      <div className="row">
        <button type="button" className="btn btn--primary" disabled={busy || !parsed.success} onClick={() => void save()}>
          {stored ? "Replace tokens" : "Save tokens"}
        </button>
        {stored && (
          <button type="button" className="btn btn--ghost" disabled={busy} onClick={() => void onRemove()}>
            Remove tokens
          </button>
        )}
      </div>
    </section>
  );
}
