import type { App } from "@octokit/app";
import type { Octokit } from "@octokit/rest";
import { type Author, LookoutError, type PullRequestState } from "@lookout/protocol";
import { z } from "zod";
import { lazy } from "../../lazy";
import { log } from "../../log";

/** Octokit's App and REST client, loaded by the first GitHub call rather than at startup (ADR 0016). */
const octokitSdk = lazy("GitHub", async () => {
  const [{ App }, { Octokit }] = await Promise.all([import("@octokit/app"), import("@octokit/rest")]);
  return { App, Octokit };
});

/** The App and the REST client class bound to one deployment's GitHub. */
interface AppOctokits {
  app: App<{ Octokit: typeof Octokit }>;
  RestOctokit: typeof Octokit;
}

/** How a deployment's GitHub App is reached. Cloudflare-free, so it runs (and is tested) in Node too. */
export interface GitHubAppSettings {
  appId: string;
  /** The App's private key (PEM, PKCS#1 as GitHub issues it, or PKCS#8). */
  privateKey: string;
  installationId: number;
  /** `https://api.github.com`, a GitHub Enterprise API, or a test fake. */
  apiUrl: string;
  /** GitHub's web and git base (`https://github.com`, or an Enterprise Server's); git credentials are minted only for its origin. */
  webUrl: string;
  /** Injected transport (tests); defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

export interface GitHubPullRequest {
  number: number;
  url: string;
  state: PullRequestState;
  draft: boolean;
  headSha: string | null;
  title: string;
  body: string;
  openedAs: "user" | "app";
  created: boolean;
}

export interface OpenPullRequestInput {
  owner: string;
  name: string;
  base: string;
  head: string;
  title: string;
  body: string;
  draft: boolean;
  /** The requester's own GitHub token: the pull request is theirs. Null opens it as the App. */
  userToken: string | null;
  /** Named in the body when the App opens the pull request on their behalf. */
  requester: Author;
  /** The number recorded for this branch before, if any. */
  knownNumber: number | null;
}

/** The token an installation hands a sandbox through the credential helper. */
export interface InstallationToken {
  token: string;
  expiresAt: number;
}

const TokenAuthentication = z.object({ token: z.string().min(1), expiresAt: z.string() });
const PullPayload = z.object({
  number: z.number().int(),
  html_url: z.string(),
  state: z.enum(["open", "closed"]),
  merged: z.boolean().optional(),
  merged_at: z.string().nullable().optional(),
  draft: z.boolean().optional(),
  title: z.string(),
  body: z.string().nullable(),
  head: z.object({ sha: z.string(), ref: z.string() }),
});
const RepositoryPayload = z.object({
  id: z.number(),
  name: z.string(),
  full_name: z.string(),
  owner: z.object({ login: z.string() }),
  default_branch: z.string().optional(),
  private: z.boolean(),
});
export type GitHubRepository = z.infer<typeof RepositoryPayload>;

/**
 * What the sandbox's pushes may do; `workflows` only after a person approved a workflow change.
 * A read-only token (a fork's pull request) can fetch and push nothing.
 */
function installationPermissions(workflows: boolean, readOnly: boolean): Record<string, "read" | "write"> {
  if (readOnly) return { contents: "read", metadata: "read" };
  return { contents: "write", pull_requests: "write", metadata: "read", ...(workflows ? { workflows: "write" } : {}) };
}

/**
 * The deployment's GitHub App: installation tokens (JWT-signed requests, cached by
 * `@octokit/auth-app` until shortly before their hour is up), the installation's repositories, and
 * pull requests opened as the requesting user or, without their token, as the App.
 */
export class GitHubAppClient {
  private octokits: Promise<AppOctokits> | null = null;
  private installation: Promise<Octokit> | null = null;

  constructor(readonly settings: GitHubAppSettings) {}

  /** The App and REST client, built once Octokit is loaded; a failed load or build is tried again next call. */
  private appOctokits(): Promise<AppOctokits> {
    this.octokits ??= octokitSdk().then(({ App, Octokit }) => this.build(App, Octokit));
    const pending = this.octokits;
    pending.catch(() => {
      if (this.octokits === pending) this.octokits = null;
    });
    return pending;
  }

  private build(AppClass: typeof App, OctokitClass: typeof Octokit): AppOctokits {
    const settings = this.settings;
    const RestOctokit = OctokitClass.defaults({
      baseUrl: settings.apiUrl.replace(/\/+$/, ""),
      // Failures come back as registry errors; Octokit's own console lines would only repeat them.
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: string) => log.debug("github", { message }),
        error: (message: string) => log.debug("github", { message }),
      },
      ...(settings.fetch ? { request: { fetch: settings.fetch } } : {}),
    });
    return { RestOctokit, app: new AppClass({ appId: settings.appId, privateKey: settings.privateKey, Octokit: RestOctokit }) };
  }

  /**
   * A short-lived installation token limited to one repository and to what pushes and pull
   * requests need. GitHub refuses a push that changes workflows without the `workflows`
   * permission, so leaving it out enforces the approval step on GitHub's side too.
   */
  async installationToken(repository: { name: string }, options: { workflows: boolean; readOnly?: boolean }): Promise<InstallationToken> {
    const { app } = await this.appOctokits();
    const authentication = await this.call(() =>
      app.octokit.auth({
        type: "installation",
        installationId: this.settings.installationId,
        repositoryNames: [repository.name],
        permissions: installationPermissions(options.workflows, options.readOnly ?? false),
      }),
    );
    const parsed = TokenAuthentication.parse(authentication);
    return { token: parsed.token, expiresAt: Date.parse(parsed.expiresAt) };
  }

  async listRepositories(): Promise<GitHubRepository[]> {
    const octokit = await this.installationOctokit();
    const repositories = await this.call(() => octokit.paginate("GET /installation/repositories", { per_page: 100 }));
    return z.array(RepositoryPayload).parse(repositories);
  }

  async listBranches(owner: string, name: string): Promise<{ name: string; sha: string }[]> {
    const octokit = await this.installationOctokit();
    const branches = await this.call(() => octokit.paginate("GET /repos/{owner}/{repo}/branches", { owner, repo: name, per_page: 100 }));
    return z
      .array(z.object({ name: z.string(), commit: z.object({ sha: z.string() }) }))
      .parse(branches)
      .map((branch) => ({ name: branch.name, sha: branch.commit.sha }));
  }

  /**
   * Opens the branch's pull request, or updates the open one (one per branch: a later push
   * updates it, it never opens a second). With the user's token it is theirs; if GitHub refuses
   * their token, or there is none, the App opens it and names them in the body.
   */
  async openOrUpdatePullRequest(input: OpenPullRequestInput): Promise<GitHubPullRequest> {
    const app = await this.installationOctokit();
    const { RestOctokit } = await this.appOctokits();
    const user = input.userToken ? new RestOctokit({ auth: input.userToken }) : null;
    const existing = await this.findOpen(app, input);
    if (existing) {
      const octokit = user ?? app;
      const updated = await this.call(() =>
        octokit.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", {
          owner: input.owner,
          repo: input.name,
          pull_number: existing.number,
          title: input.title,
          body: user ? input.body : withRequester(input.body, input.requester),
        }),
      ).catch(async (error: unknown) => {
        if (!user || !isAuthRefusal(error)) throw error;
        return this.call(() =>
          app.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", {
            owner: input.owner,
            repo: input.name,
            pull_number: existing.number,
            title: input.title,
            body: withRequester(input.body, input.requester),
          }),
        );
      });
      return toPullRequest(PullPayload.parse(updated.data), user ? "user" : "app", false);
    }
    if (user) {
      try {
        return await this.create(user, input, input.body, "user");
      } catch (error) {
        if (!isAuthRefusal(error)) throw error;
        // The user's token cannot open it here (revoked, or no access): the App does, naming them.
      }
    }
    return this.create(app, input, withRequester(input.body, input.requester), "app");
  }

  async readPullRequest(owner: string, name: string, number: number): Promise<GitHubPullRequest> {
    const octokit = await this.installationOctokit();
    const response = await this.call(() =>
      octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner, repo: name, pull_number: number }),
    );
    return toPullRequest(PullPayload.parse(response.data), "app", false);
  }

  private async create(octokit: Octokit, input: OpenPullRequestInput, body: string, openedAs: "user" | "app"): Promise<GitHubPullRequest> {
    const request = (draft: boolean) =>
      this.call(() =>
        octokit.request("POST /repos/{owner}/{repo}/pulls", {
          owner: input.owner,
          repo: input.name,
          title: input.title,
          head: input.head,
          base: input.base,
          body,
          draft,
        }),
      );
    let response;
    try {
      response = await request(input.draft);
    } catch (error) {
      // Repositories on plans without draft pull requests refuse the flag: open it ready instead.
      if (!input.draft || !(error instanceof LookoutError) || !/draft/i.test(error.message)) throw error;
      response = await request(false);
    }
    return toPullRequest(PullPayload.parse(response.data), openedAs, true);
  }

  private async findOpen(octokit: Octokit, input: OpenPullRequestInput): Promise<{ number: number } | null> {
    if (input.knownNumber !== null) {
      const known = await this.call(() =>
        octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", {
          owner: input.owner,
          repo: input.name,
          pull_number: input.knownNumber ?? 0,
        }),
      );
      const pull = PullPayload.parse(known.data);
      if (pull.state === "open") return { number: pull.number };
    }
    const listed = await this.call(() =>
      octokit.request("GET /repos/{owner}/{repo}/pulls", {
        owner: input.owner,
        repo: input.name,
        head: `${input.owner}:${input.head}`,
        state: "open",
        per_page: 1,
      }),
    );
    const first = z.array(PullPayload).parse(listed.data)[0];
    return first ? { number: first.number } : null;
  }

  /** Runs `work` with the installation's Octokit; GitHub's failures come back as registry errors. */
  async asInstallation<T>(work: (octokit: Octokit) => Promise<T>): Promise<T> {
    const octokit = await this.installationOctokit();
    return this.call(() => work(octokit));
  }

  /** Runs `work` as the App itself (JWT-signed requests, e.g. `GET /app`). */
  async asApp<T>(work: (octokit: Octokit) => Promise<T>): Promise<T> {
    const { app } = await this.appOctokits();
    return this.call(() => work(app.octokit));
  }

  private installationOctokit(): Promise<Octokit> {
    this.installation ??= this.appOctokits().then(({ app }) => this.call(() => app.getInstallationOctokit(this.settings.installationId)));
    const pending = this.installation;
    pending.catch(() => {
      if (this.installation === pending) this.installation = null;
    });
    return pending;
  }

  /** GitHub's failures as registry errors: configuration, authorization, or upstream trouble. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toLookoutError(error);
    }
  }
}

function toPullRequest(pull: z.infer<typeof PullPayload>, openedAs: "user" | "app", created: boolean): GitHubPullRequest {
  return {
    number: pull.number,
    url: pull.html_url,
    state: pull.merged || pull.merged_at ? "merged" : pull.state,
    draft: pull.draft ?? false,
    headSha: pull.head.sha,
    title: pull.title,
    body: pull.body ?? "",
    openedAs,
    created,
  };
}

/** The App opens pull requests for people; the body says who asked. */
export function withRequester(body: string, requester: Author): string {
  const who = requester.github ? `@${requester.github.login}` : requester.name;
  const line = `Requested by ${who} through Lookout.`;
  return body.includes(line) ? body : `${body.trimEnd()}\n\n${line}`;
}

const HttpFailure = z.object({ status: z.number(), message: z.string().optional() });

function toLookoutError(error: unknown): LookoutError {
  if (error instanceof LookoutError) return error;
  const parsed = HttpFailure.safeParse(error);
  const status = parsed.success ? parsed.data.status : 0;
  const message = parsed.success ? (parsed.data.message ?? "") : String(error);
  const wrapped = new LookoutError(
    status === 401 || status === 403 || status === 404 ? "FORBIDDEN" : status === 422 ? "VALIDATION_FAILED" : "SCM_UPSTREAM",
    `GitHub answered ${status || "nothing"}: ${message.slice(0, 500)}`,
    { status },
  );
  return wrapped;
}

function isAuthRefusal(error: unknown): boolean {
  return error instanceof LookoutError && error.code === "FORBIDDEN";
}
