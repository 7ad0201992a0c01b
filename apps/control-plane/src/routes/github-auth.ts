import { LookoutError, randomToken, timingSafeEqual } from "@lookout/protocol";
import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { admit, policyFrom } from "../auth/github-admission";
import { SESSION_COOKIE } from "../auth/middleware";
import { AUTH_SESSION_TTL_MS, AuthSessionStore } from "../db/auth-sessions";
import { UserTokenStore } from "../db/user-tokens";
import { UserStore } from "../db/users";
import type { Env } from "../env";
import type { AppEnv } from "../http/app-env";
import { readQuery } from "../http/validate";
import { lazy } from "../lazy";
import { log } from "../log";
import { DEFAULT_GITHUB_API_URL } from "../scm/github/settings";

/** The OAuth `state` lives in a short-lived cookie bound to this browser. */
const STATE_COOKIE = "lookout_github_state";
const STATE_TTL_SECONDS = 600;

const CallbackQuery = z.object({ code: z.string().min(1).max(512), state: z.string().min(16).max(128) });
const GithubUser = z.object({
  id: z.number().int().positive(),
  login: z.string(),
  name: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
  avatar_url: z.string().url().optional(),
});
const GithubOrgs = z.array(z.object({ login: z.string() }));

/**
 * GitHub sign-in through the GitHub App's OAuth client (`/auth/github`, public). The user's token
 * is kept, sealed with the secrets cipher, so pull requests can be opened as them.
 */
export const githubAuthRoutes = new Hono<AppEnv>();

githubAuthRoutes.get("/", async (c) => {
  const { clientId } = oauthClient(c.env);
  const state = randomToken(24);
  setCookie(c, STATE_COOKIE, state, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/auth/github",
    secure: isHttps(c),
    maxAge: STATE_TTL_SECONDS,
  });
  const { getWebFlowAuthorizationUrl } = await octokitOAuth();
  const { url } = getWebFlowAuthorizationUrl({
    clientType: "github-app",
    clientId,
    redirectUrl: callbackUrl(c.env),
    state,
    request: await githubRequest(c.env),
  });
  return c.redirect(url, 302);
});

githubAuthRoutes.get("/callback", async (c) => {
  const { clientId, clientSecret } = oauthClient(c.env);
  const query = readQuery(c, CallbackQuery);
  const expected = getCookie(c, STATE_COOKIE) ?? "";
  deleteCookie(c, STATE_COOKIE, { path: "/auth/github" });
  if (!expected || !timingSafeEqual(expected, query.state))
    throw new LookoutError("INVALID_TOKEN", "The sign-in was not started from this browser, or it took too long; start again.");
  const request = await githubRequest(c.env);
  const { exchangeWebFlowCode } = await octokitOAuth();
  let authentication: { token: string; refreshToken?: string; expiresAt?: string; refreshTokenExpiresAt?: string };
  try {
    ({ authentication } = await exchangeWebFlowCode({
      clientType: "github-app",
      clientId,
      clientSecret,
      code: query.code,
      redirectUrl: callbackUrl(c.env),
      request,
    }));
  } catch (error) {
    log.warn("github code exchange failed", { error: String(error) });
    throw new LookoutError("INVALID_TOKEN", "GitHub did not accept the sign-in code; start again.");
  }
  const headers = { authorization: `token ${authentication.token}` };
  const user = GithubUser.parse((await request("GET /user", { headers })).data);
  const policy = policyFrom(c.env);
  const orgs =
    policy.orgs.length > 0
      ? GithubOrgs.parse((await request("GET /user/orgs", { headers, per_page: 100 })).data).map((org) => org.login)
      : [];
  const admission = admit({ login: user.login, orgs }, policy);
  if (!admission.admitted) throw new LookoutError("FORBIDDEN", admission.reason);

  const now = Date.now();
  const signedIn = await new UserStore(c.env.DB).upsertGithubUser(
    { id: user.id, login: user.login, name: user.name ?? null, email: user.email ?? null, avatarUrl: user.avatar_url ?? null },
    admission.role,
    now,
  );
  await new UserTokenStore(c.env.DB, c.env.SECRETS_ENCRYPTION_KEYS).put(
    signedIn.id,
    "github",
    {
      accessToken: authentication.token,
      refreshToken: authentication.refreshToken ?? null,
      expiresAt: authentication.expiresAt ? Date.parse(authentication.expiresAt) : null,
      refreshExpiresAt: authentication.refreshTokenExpiresAt ? Date.parse(authentication.refreshTokenExpiresAt) : null,
      scopes: "",
    },
    now,
  );
  const session = await new AuthSessionStore(c.env.DB).create(signedIn.id, now);
  setCookie(c, SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    secure: isHttps(c),
    maxAge: Math.floor(AUTH_SESSION_TTL_MS / 1000),
  });
  log.info("github user signed in", { userId: signedIn.id, login: user.login, role: admission.role });
  c.header("Cache-Control", "no-store");
  return c.redirect("/", 302);
});

function oauthClient(env: Env): { clientId: string; clientSecret: string } {
  const clientId = env.GITHUB_APP_CLIENT_ID?.trim();
  const clientSecret = env.GITHUB_APP_CLIENT_SECRET?.trim();
  if (!clientId || !clientSecret)
    throw new LookoutError("SCM_NOT_CONFIGURED", "GitHub sign-in is off: set GITHUB_APP_CLIENT_ID and GITHUB_APP_CLIENT_SECRET.");
  return { clientId, clientSecret };
}

/** Octokit's OAuth web flow and request, loaded by the first sign-in rather than at startup (ADR 0016). */
const octokitOAuth = lazy("GitHub sign-in", () => import("@octokit/oauth-methods"));
const octokitRequest = lazy("GitHub sign-in", () => import("@octokit/request"));

/** Octokit's request bound to the configured API (its OAuth endpoints derive from the same base). */
async function githubRequest(env: Env) {
  const { request } = await octokitRequest();
  const binding = env.GITHUB_API;
  return request.defaults({
    baseUrl: (env.GITHUB_API_URL?.trim() || DEFAULT_GITHUB_API_URL).replace(/\/+$/, ""),
    ...(binding ? { request: { fetch: (input: RequestInfo | URL, init?: RequestInit) => binding.fetch(input, init) } } : {}),
  });
}

function callbackUrl(env: Env): string {
  return `${env.PUBLIC_URL.replace(/\/+$/, "")}/auth/github/callback`;
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:";
}
