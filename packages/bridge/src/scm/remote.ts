import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { CommitSha } from "@lookout/protocol";
import { checkBranchName } from "../branch";
import { REMOTE_NAME, type Git, type PrepareRemote } from "../git";
import { execGit, GitError, gitEnvironment, HARDENED_GIT_CONFIG, protocolPolicy, type GitResult } from "../git-command";
import type { Logger } from "../logger";
import { authorizationConfig, credentialRequestFor, type GitCredentialSource } from "./git-credentials";

export interface SessionRemoteOptions {
  /** The session's repository (`LOOKOUT_REPO_URL`). */
  url: string;
  /** The checkout's git, for the commands that need no credential. */
  git: Git;
  /**
   * A directory of the bridge's own, outside the checkout and the agent's home: the transport
   * repository lives in `<dir>/transport.git` and git's HOME is `<dir>/home`.
   */
  dir: string;
  /** Where short-lived credentials come from; unused for remotes that are not http(s). */
  credentials: GitCredentialSource | undefined;
  logger: Logger;
  /** The environment git starts from (`LOOKOUT_*` and `GIT_*` are dropped); default the bridge's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The session's remote, for the git commands that carry a credential (fetch, push). They never
 * run in the checkout: its configuration, hooks and attributes are the agent's to write, and a
 * proxy, a CA file or a helper named there would see the credential. They run in a bare transport
 * repository the bridge creates and owns, whose configuration is git's defaults plus the hardened
 * settings, and which reads the checkout's commits through `objects/info/alternates` (object files
 * are data). Fetched objects are then moved into the checkout by the checkout's own git, from the
 * transport repository, with no credential; pushed ones come from the checkout the same way.
 *
 * Under `separate-user` isolation the transport repository is root's and the agent cannot change
 * it. Under `non-dumpable` the agent has the bridge's uid and could, and could read the credential
 * from the pushing git's environment anyway: what it gets is a credential for the session's own
 * branch, which the bridge pushes to regardless (see `docs/security.md`).
 */
export class SessionRemote implements PrepareRemote {
  readonly url: string;
  private readonly transport: string;
  private readonly home: string;
  private readonly scheme: string;

  constructor(private readonly options: SessionRemoteOptions) {
    this.url = options.url;
    this.transport = join(options.dir, "transport.git");
    this.home = join(options.dir, "home");
    this.scheme = remoteScheme(options.url);
  }

  /**
   * Fetches the remote's branches into the checkout's `refs/remotes/origin/*`, and its tags; with
   * `pullRequestHead`, that pull request's head too, as `origin/pull/<n>/head` (a fork's session
   * starts there: its commits are in no branch of this repository).
   */
  async fetch(options: { pullRequestHead?: number } = {}): Promise<void> {
    await this.ensureTransport();
    const refspecs = [`+refs/heads/*:refs/remotes/${REMOTE_NAME}/*`, "+refs/tags/*:refs/tags/*"];
    const { pullRequestHead } = options;
    if (pullRequestHead !== undefined) {
      if (!Number.isSafeInteger(pullRequestHead) || pullRequestHead < 1) throw new Error(`not a pull request number: ${pullRequestHead}`);
      refspecs.push(`+refs/pull/${pullRequestHead}/head:refs/remotes/${REMOTE_NAME}/pull/${pullRequestHead}/head`);
    }
    const fetched = await this.network(["fetch", "--quiet", "--prune", "--no-write-fetch-head", this.url, ...refspecs]);
    if (fetched.code !== 0) throw new GitError(["fetch"], fetched.code, fetched.stderr);
    const { git } = this.options;
    // The upload-pack git starts for a local path gets none of the command-scope configuration (git
    // clears it for local transports), so the transport repository, which the checkout's user may
    // not own, is declared safe on its own command line (run through the shell, hence quoted).
    const uploadPack = `git -c safe.directory=${shellQuote(this.transport)} upload-pack`;
    const local = ["fetch", "--quiet", "--no-write-fetch-head", `--upload-pack=${uploadPack}`, this.transport];
    await git.run([...local, "--prune", `+refs/remotes/${REMOTE_NAME}/*:refs/remotes/${REMOTE_NAME}/*`]);
    // Tags the agent made itself stay; a tag that differs from the remote's is the agent's business.
    await git.run([...local, "refs/tags/*:refs/tags/*"], { okCodes: [0, 1] });
    await this.dropObjects();
  }

  /** Pushes `headSha` to the session branch on the remote. A refused push is a result, not an error. */
  async push(headSha: string, branch: string): Promise<GitResult> {
    const check = checkBranchName(branch);
    if (!check.ok) throw new Error(`Refusing branch name ${JSON.stringify(branch)}: it ${check.reason}.`);
    if (!CommitSha.safeParse(headSha).success) throw new Error(`Refusing to push ${JSON.stringify(headSha)}: not a commit hash.`);
    await this.ensureTransport();
    // The refspec is one argv entry built from a validated branch name: nothing reaches a shell.
    return this.network(["push", "--quiet", "--no-verify", this.url, `${headSha}:refs/heads/${branch}`]);
  }

  /** Runs a network command in the transport repository with a fresh credential, as the bridge's own user. */
  private async network(args: readonly string[]): Promise<GitResult> {
    const request = credentialRequestFor(this.url);
    const config: Array<readonly [string, string]> = [...HARDENED_GIT_CONFIG, ...protocolPolicy(this.scheme)];
    if (request && this.options.credentials) {
      try {
        config.push(...authorizationConfig(this.url, await this.options.credentials(request)));
      } catch (error) {
        // Git goes on without one; a remote that needs it refuses, and the command's error says so.
        this.options.logger.warn("no git credential", { error: error instanceof Error ? error.message : String(error) });
      }
    }
    return execGit(args, {
      cwd: this.transport,
      env: {
        ...gitEnvironment(this.options.env ?? process.env, config),
        GIT_DIR: this.transport,
        HOME: this.home,
        XDG_CONFIG_HOME: this.home,
      },
      okCodes: [0, 1, 128],
    });
  }

  /** The checkout has every fetched object now; the transport repository reads them from there. */
  private async dropObjects(): Promise<void> {
    const objects = join(this.transport, "objects");
    for (const entry of await readdir(objects)) {
      if (entry === "pack" || /^[0-9a-f]{2}$/.test(entry)) await rm(join(objects, entry), { recursive: true, force: true });
    }
    await mkdir(join(objects, "pack"));
  }

  /** Creates the transport repository once; it borrows the checkout's objects. */
  private async ensureTransport(): Promise<void> {
    if (existsSync(join(this.transport, "objects", "info", "alternates"))) return;
    await mkdir(this.home, { recursive: true, mode: 0o755 });
    const env = { ...gitEnvironment(this.options.env ?? process.env, HARDENED_GIT_CONFIG), HOME: this.home };
    await execGit(["init", "--quiet", "--bare", this.transport], { cwd: this.options.dir, env });
    const objects = await this.options.git.run(["rev-parse", "--git-path", "objects"]);
    const path = objects.stdout.trim();
    await writeFile(
      join(this.transport, "objects", "info", "alternates"),
      `${isAbsolute(path) ? path : resolve(this.options.git.workdir, path)}\n`,
    );
  }
}

/** The one protocol the remote's URL needs (`protocol.<name>.allow`): its scheme, or `file` for a path. */
export function remoteScheme(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme) return scheme;
  // `host:path` is git's scp-like ssh syntax; anything else is a local path.
  if (/^[^/]*:/.test(url) && !url.startsWith("/")) return "ssh";
  return "file";
}

/** `'…'`-quotes a value for the shell git runs `--upload-pack` with. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
