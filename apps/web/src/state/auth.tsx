import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError } from "../api/api-error";
import { useApi } from "../api/context";
import type { MeResponse } from "../api/lookout-api";

export type AuthState =
  | { status: "checking" }
  | { status: "signed-in"; me: MeResponse }
  /**
   * `expired` when a signed-in user's login stopped working mid-session; `error` when a login
   * link in the address bar was refused.
   */
  | { status: "signed-out"; expired: boolean; error?: string }
  | { status: "unreachable"; error: ApiError };

interface AuthContextValue {
  state: AuthState;
  signIn: (token: string) => Promise<void>;
  signOut: () => Promise<void>;
  recheck: () => void;
}

const AuthContext = createContext<AuthContextValue | null>(null);

/** The query parameter a login link may carry when it points at the dashboard itself. */
const TOKEN_PARAM = "token";
/** Where `GET /auth/login` puts the error code when it refuses a login link. */
const LOGIN_ERROR_PARAM = "login_error";

/** Why a login link was refused, for the codes `GET /auth/login` sends back. */
const LOGIN_ERROR_MESSAGES: Record<string, string> = {
  INVALID_TOKEN:
    "That login link is not valid (anymore). The start command prints a fresh link each time it starts; open the newest one or paste it here.",
  VALIDATION_FAILED: "That login link has no token in it. Copy the whole link the start command printed.",
  RATE_LIMITED: "Too many wrong sign-in attempts. Wait a few minutes, then use the newest login link (the right link always works).",
  UNAUTHENTICATED:
    "Signing in with a login link is turned off on this server: it has no login token configured. Start Lookout with `npm start`.",
};

/** The sentence to show for a `login_error` code. */
export function loginErrorMessage(code: string): string {
  return LOGIN_ERROR_MESSAGES[code] ?? `The login link was refused (${code}). Open the newest login link the start command printed.`;
}

/** What the address bar said about signing in: a `?token=` to use, or a refused link's reason. */
interface SignInFromUrl {
  login: Promise<ApiError | null>;
  refusal: string | null;
}

/**
 * Taken from the address bar once and kept until a check completes: React runs effects twice in
 * development, and the second run must wait for the same login (rather than ask `/api/me` before
 * the cookie is set) and show the same refusal, though the first run already cleaned the URL.
 */
let fromUrl: SignInFromUrl | null = null;

/**
 * Knows whether someone is signed in. A 401 from any request signs the page out in place (the URL
 * and every draft stay), so signing back in returns to exactly where the person was.
 */
export function AuthProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [state, setState] = useState<AuthState>({ status: "checking" });
  const [checkCount, setCheckCount] = useState(0);

  useEffect(
    () =>
      api.http.onUnauthenticated(() =>
        setState((current) =>
          current.status === "signed-out" ? current : { status: "signed-out", expired: current.status === "signed-in" },
        ),
      ),
    [api],
  );

  useEffect(() => {
    const abort = new AbortController();
    const tokenFromUrl = takeTokenFromUrl();
    const refusal = takeLoginErrorFromUrl();
    if (tokenFromUrl || refusal) {
      fromUrl = {
        login: tokenFromUrl
          ? api.login(tokenFromUrl).then(
              () => null,
              (error: unknown) => (error instanceof ApiError ? error : ApiError.network(error)),
            )
          : Promise.resolve(null),
        refusal,
      };
    }
    const check = async () => {
      const pending = fromUrl;
      const loginError = pending ? await pending.login : null;
      const consume = () => {
        if (fromUrl === pending) fromUrl = null;
      };
      try {
        const me = await api.me(abort.signal);
        if (abort.signal.aborted) return;
        consume();
        setState({ status: "signed-in", me });
      } catch (error) {
        if (abort.signal.aborted) return;
        consume();
        if (error instanceof ApiError && error.status === 401) {
          const reason = loginError?.message ?? pending?.refusal;
          setState({ status: "signed-out", expired: false, ...(reason ? { error: reason } : {}) });
        } else {
          setState({ status: "unreachable", error: error instanceof ApiError ? error : ApiError.network(error) });
        }
      }
    };
    void check();
    return () => abort.abort();
  }, [api, checkCount]);

  const signIn = useCallback(
    async (token: string) => {
      await api.login(token);
      const me = await api.me();
      setState({ status: "signed-in", me });
      // Anything fetched before the login lapsed may be stale or an error; fetch it again.
      await queryClient.invalidateQueries();
    },
    [api, queryClient],
  );

  const signOut = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      queryClient.clear();
      setState({ status: "signed-out", expired: false });
    }
  }, [api, queryClient]);

  const recheck = useCallback(() => {
    setState({ status: "checking" });
    setCheckCount((count) => count + 1);
  }, []);

  const value = useMemo(() => ({ state, signIn, signOut, recheck }), [state, signIn, signOut, recheck]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside <AuthProvider>");
  return value;
}

/** The signed-in user; only for components rendered behind the sign-in gate. */
export function useMe(): MeResponse {
  const { state } = useAuth();
  if (state.status !== "signed-in") throw new Error("useMe needs a signed-in user");
  return state.me;
}

/** Removes `?token=` from the address bar (it must not linger in history) and returns it. */
function takeTokenFromUrl(): string | null {
  return takeParam(TOKEN_PARAM);
}

/**
 * Reads and removes `?login_error=` (a refused `GET /auth/login` link lands here), so reloading
 * the page does not show the complaint again; returns the sentence to show, or null.
 */
function takeLoginErrorFromUrl(): string | null {
  const code = takeParam(LOGIN_ERROR_PARAM);
  return code ? loginErrorMessage(code) : null;
}

function takeParam(name: string): string | null {
  const url = new URL(window.location.href);
  const value = url.searchParams.get(name);
  if (!value) return null;
  url.searchParams.delete(name);
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  return value;
}

/** Accepts a bare token or a whole pasted login URL. */
export function tokenFromInput(input: string): string {
  const trimmed = input.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return new URL(trimmed).searchParams.get(TOKEN_PARAM) ?? trimmed;
    } catch {
      return trimmed;
    }
  }
  return trimmed;
}
