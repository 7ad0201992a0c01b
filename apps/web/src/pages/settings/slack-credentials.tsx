import { PutSlackCredentialsRequest, type SlackSettingsView } from "@lookout/protocol";
import { useState } from "react";

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
      <div className="field">
        <label htmlFor="slack-bot-token" className="field__label">
          Bot token
        </label>
        <input
          id="slack-bot-token"
          className="input mono"
          type="password"
          autoComplete="off"
          placeholder="xoxb-…"
          value={botToken}
          onChange={(event) => setBotToken(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="slack-signing-secret" className="field__label">
          Signing secret
        </label>
        <input
          id="slack-signing-secret"
          className="input mono"
          type="password"
          autoComplete="off"
          placeholder="32 hexadecimal characters"
          value={signingSecret}
          onChange={(event) => setSigningSecret(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="slack-app-token" className="field__label">
          App-level token (Socket Mode, optional)
        </label>
        <input
          id="slack-app-token"
          className="input mono"
          type="password"
          autoComplete="off"
          placeholder="xapp-…"
          value={appToken}
          onChange={(event) => setAppToken(event.target.value)}
        />
        <span className="field__hint">Checked with Slack, encrypted at rest and never shown again.</span>
      </div>
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
