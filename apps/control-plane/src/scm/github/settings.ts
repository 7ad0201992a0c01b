import { type GitCredentialResponse, LookoutError } from "@lookout/protocol";
import type { Env } from "../../env";
import { GitHubAppClient } from "./client";
import { toPkcs8Pem } from "./private-key";

export const DEFAULT_GITHUB_API_URL = "https://api.github.com";
export const DEFAULT_GITHUB_WEB_URL = "https://github.com";

/**
 * GitHub's web and git base (`GITHUB_WEB_URL`): `https://github.com`, a GitHub Enterprise Server
 * (`https://ghe.example.com`), or a test fake. Clone URLs are built on it and git credentials are
 * issued for its origin only.
 */
export function githubWebUrl(env: Env): string {
  const configured = env.GITHUB_WEB_URL?.trim();
  return (configured || DEFAULT_GITHUB_WEB_URL).replace(/\/+$/, "");
}

/**
 * A git credential that can fetch one repository of the App's installation and never push (an
 * installation token with `contents: read`, about an hour's life): what the warm pool's and an image
 * build's clone use, since neither acts for a session that may push.
 */
export async function readOnlyGitCredential(env: Env, repositoryName: string): Promise<GitCredentialResponse> {
  const token = await githubClient(env).installationToken({ name: repositoryName }, { workflows: false, readOnly: true });
  return { username: "x-access-token", password: token.token, expiresAt: token.expiresAt };
}

/** The URL a sandbox clones a GitHub repository from. */
export function githubCloneUrl(env: Env, fullName: string): string {
  return `${githubWebUrl(env)}/${fullName}.git`;
}

/** A pull request's page on the configured GitHub (what a session's origin links to). */
export function githubPullRequestUrl(env: Env, fullName: string, pullRequest: number): string {
  return `${githubWebUrl(env)}/${fullName.split("/").map(encodeURIComponent).join("/")}/pull/${pullRequest}`;
}

let cached: { key: string; client: GitHubAppClient } | null = null;

/**
 * The GitHub App client for this isolate's configuration. It is kept between requests so the
 * installation tokens `@octokit/auth-app` caches (about an hour each) are reused instead of minted
 * per request. Missing configuration is `SCM_NOT_CONFIGURED`: nothing falls back to anonymous access.
 */
export function githubClient(env: Env): GitHubAppClient {
  const appId = env.GITHUB_APP_ID?.trim();
  const pem = env.GITHUB_APP_PRIVATE_KEY?.replace(/\\n/g, "\n").trim();
  // workerd's WebCrypto imports PKCS#8 only; GitHub issues PKCS#1.
  const privateKey = pem ? toPkcs8Pem(pem) : undefined;
  const installationId = Number(env.GITHUB_APP_INSTALLATION_ID);
  if (!appId || !privateKey || !Number.isSafeInteger(installationId) || installationId <= 0) {
    throw new LookoutError(
      "SCM_NOT_CONFIGURED",
      "GitHub is not configured: set GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID.",
    );
  }
  const apiUrl = env.GITHUB_API_URL?.trim() || DEFAULT_GITHUB_API_URL;
  const webUrl = githubWebUrl(env);
  const key = `${appId}\n${installationId}\n${apiUrl}\n${webUrl}\n${privateKey}\n${env.GITHUB_API ? "bound" : "internet"}`;
  if (cached?.key === key) return cached.client;
  const binding = env.GITHUB_API;
  const client = new GitHubAppClient({
    appId,
    privateKey,
    installationId,
    apiUrl,
    webUrl,
    ...(binding ? { fetch: (input: RequestInfo | URL, init?: RequestInit) => binding.fetch(input, init) } : {}),
  });
  cached = { key, client };
  return client;
}
