/**
 * The apps a deployment's integrations need, with the deployed URL filled in. The GitHub App, as a
 * GitHub App manifest with the deployed URL filled in
 * (https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest), and a
 * page that submits it: open the page, confirm on GitHub, and the App exists with the webhook,
 * callback, permissions and events `docs/github.md` lists. The manifest is checked against the
 * parameters GitHub documents and the webhook event names Octokit knows. The Slack app, from the
 * HTTPS manifest the Slack integration ships, its URLs checked to be this deployment's Slack routes.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** What `docs/github.md` step 1 asks for: contents, pull requests and issues to write, metadata to read. */
const GITHUB_PERMISSIONS = { contents: "write", pull_requests: "write", issues: "write", metadata: "read" } as const;
const GITHUB_EVENTS = ["pull_request", "issue_comment", "pull_request_review", "pull_request_review_comment"] as const;

/** The manifest parameters GitHub documents; anything else is refused by GitHub's form. */
const MANIFEST_KEYS = new Set([
  "name",
  "url",
  "hook_attributes",
  "redirect_url",
  "callback_urls",
  "setup_url",
  "description",
  "public",
  "default_events",
  "default_permissions",
  "request_oauth_on_install",
  "setup_on_update",
]);
/** GitHub App names are at most 34 characters. */
const MAX_APP_NAME = 34;

export interface GithubAppManifest {
  name: string;
  url: string;
  description: string;
  hook_attributes: { url: string; active: boolean };
  redirect_url: string;
  callback_urls: string[];
  public: boolean;
  default_permissions: Record<string, "read" | "write">;
  default_events: string[];
}

export function githubAppManifest(publicUrl: string, environment: string): GithubAppManifest {
  return {
    name: `Lookout ${environment}`.slice(0, MAX_APP_NAME),
    url: publicUrl,
    description: "Lookout, a background coding agent: clones, pushes, opens pull requests and answers @mentions.",
    hook_attributes: { url: `${publicUrl}/api/webhooks/github`, active: true },
    // GitHub sends the new App's code here; the deploy's docs say how to exchange it for the App's secrets.
    redirect_url: publicUrl,
    callback_urls: [`${publicUrl}/auth/github/callback`],
    public: false,
    default_permissions: { ...GITHUB_PERMISSIONS },
    default_events: [...GITHUB_EVENTS],
  };
}

/**
 * What is wrong with `manifest` against GitHub's documented parameters, with events checked against
 * Octokit's list of webhook events (`@octokit/webhooks`, resolved from the control plane).
 */
export async function githubManifestProblems(root: string, manifest: unknown): Promise<string[]> {
  // ESM only: resolved from the control plane, which depends on it, and imported.
  const entry = createRequire(join(root, "apps", "control-plane", "package.json")).resolve("@octokit/webhooks");
  const { emitterEventNames } = (await import(pathToFileURL(entry).href)) as { emitterEventNames: readonly string[] };
  const problems: string[] = [];
  if (typeof manifest !== "object" || manifest === null) return ["the manifest is not an object"];
  const m = manifest as Record<string, unknown>;
  for (const key of Object.keys(m)) if (!MANIFEST_KEYS.has(key)) problems.push(`${key} is not a manifest parameter`);
  if (typeof m.name !== "string" || m.name.length === 0 || m.name.length > MAX_APP_NAME)
    problems.push(`name must be 1–${MAX_APP_NAME} characters`);
  const https = (value: unknown) => typeof value === "string" && /^https:\/\/[^\s/]+(\/\S*)?$/.test(value);
  if (!https(m.url)) problems.push("url must be an https URL");
  if (m.redirect_url !== undefined && !https(m.redirect_url)) problems.push("redirect_url must be an https URL");
  const hook = m.hook_attributes as { url?: unknown } | undefined;
  if (!hook || !https(hook.url)) problems.push("hook_attributes.url must be an https URL");
  if (!Array.isArray(m.callback_urls) || !m.callback_urls.every(https) || m.callback_urls.length > 10) {
    problems.push("callback_urls must be up to 10 https URLs");
  }
  const permissions = m.default_permissions;
  if (typeof permissions !== "object" || permissions === null) problems.push("default_permissions must be an object");
  else {
    for (const [name, level] of Object.entries(permissions)) {
      if (!/^[a-z_]+$/.test(name) || (level !== "read" && level !== "write"))
        problems.push(`default_permissions.${name} must be read or write`);
    }
  }
  if (!Array.isArray(m.default_events)) problems.push("default_events must be a list");
  else
    for (const event of m.default_events)
      if (!emitterEventNames.includes(String(event))) problems.push(`default_events: ${String(event)} is not a GitHub webhook event`);
  return problems;
}

/** A page that posts the manifest to GitHub's "new App" form (for a personal account, or `organization`). */
export function githubManifestPage(manifest: GithubAppManifest, organization?: string): string {
  const action = organization
    ? `https://github.com/organizations/${encodeURIComponent(organization)}/settings/apps/new`
    : "https://github.com/settings/apps/new";
  const escaped = JSON.stringify(manifest).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  return [
    "<!doctype html>",
    `<meta charset="utf-8"><title>Create the GitHub App for ${manifest.url}</title>`,
    `<form action="${action}" method="post">`,
    `  <input type="hidden" name="manifest" value="${escaped}">`,
    `  <p>Creates the GitHub App <b>${manifest.name}</b> for <code>${manifest.url}</code> (webhook, callback, permissions and events filled in).</p>`,
    `  <button type="submit">Create the GitHub App on GitHub</button>`,
    "</form>",
    "",
  ].join("\n");
}

/** The Slack app manifest for Slack's Events API over HTTPS (`infra/slack/manifest-http.yaml`, docs/slack.md) at this URL. */
export function slackAppManifest(root: string, publicUrl: string): string {
  return readFileSync(join(root, "infra", "slack", "manifest-http.yaml"), "utf8").replaceAll("https://HOST", publicUrl);
}

/** Every URL a Slack manifest gives Slack must be one of this deployment's Slack routes, and none may be left a placeholder. */
export function slackManifestProblems(manifest: string, publicUrl: string): string[] {
  const problems: string[] = [];
  const urls = [...manifest.matchAll(/^\s*(?:-\s*)?(url|request_url):\s*(\S+)\s*$/gm)].map((match) => ({ key: match[1]!, url: match[2]! }));
  if (urls.length === 0) problems.push("the manifest names no request URL");
  for (const { key, url } of urls) {
    if (!url.startsWith(`${publicUrl}/api/slack/`)) problems.push(`${key} ${url} is not under ${publicUrl}/api/slack/`);
  }
  if (/\bHOST\b/.test(manifest.replace(/^#.*$/gm, ""))) problems.push("a HOST placeholder is left");
  return problems;
}
