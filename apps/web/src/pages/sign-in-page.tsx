import { useState, type FormEvent } from "react";
import { errorMessage } from "../api/api-error";
import { tokenFromInput, useAuth } from "../state/auth";

/**
 * Shown in place of any page while nobody is signed in. The address bar keeps the page that was
 * asked for, so signing in lands there, and drafts stay in storage meanwhile.
 */
export function SignInPage({ expired, initialError }: { expired: boolean; initialError?: string | undefined }) {
  const { signIn } = useAuth();
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(initialError ?? null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = tokenFromInput(token);
    if (!value) {
      setError("Paste the login token or the whole login URL.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(value);
    } catch (caught) {
      setError(errorMessage(caught));
      setBusy(false);
    }
  };

  return (
    <div className="center-page">
      <form className="card sign-in" onSubmit={(event) => void submit(event)} noValidate>
        <div className="card__body stack">
          <div className="brand" aria-hidden>
            <span className="brand__mark">◉</span> Lookout
          </div>
          <h1>{expired ? "Your login expired" : "Sign in"}</h1>
          <p className="muted">
            {expired
              ? "Sign in again to carry on. Whatever you were typing is kept."
              : "Open the login URL that the start command printed, or paste it (or just its token) here."}
          </p>
          <label className="field">
            <span className="field__label">Login token or URL</span>
            <input
              className="input"
              name="token"
              type="password"
              autoComplete="off"
              autoFocus
              value={token}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? "sign-in-error" : undefined}
              onChange={(event) => setToken(event.target.value)}
              placeholder="http://127.0.0.1:8787/auth/login?token=…"
            />
          </label>
          {error && (
            <div id="sign-in-error" className="callout callout--error" role="alert">
              <span className="callout__body">{error}</span>
            </div>
          )}
          <button type="submit" className="btn btn--primary" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </form>
    </div>
  );
}
