import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { checkBranchName } from "./branch";
import { execGit, GitError, gitEnvironment, HARDENED_GIT_CONFIG, protocolPolicy, repositoryOverrides, type GitResult } from "./git-command";
import { giveTree, givePaths, type AgentUser } from "./isolation";
import type { Logger } from "./logger";
import { truncateMiddle } from "./translator";

/** The hash of git's empty tree: the "before" of a repository without commits. */
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
/** Largest diff text sent in `files.changed`; the frame limit is 256 KiB and JSON escaping grows text. */
export const MAX_DIFF_CHARS = 96_000;
/** Most files listed in `files.changed` (the protocol's limit). */
export const MAX_CHANGED_FILES = 5_000;
/** The remote name the session's repository is known by in the checkout. */
export const REMOTE_NAME = "origin";

export interface GitIdentity {
  name: string;
  email: string;
}

export interface ChangedFile {
  path: string;
  change: "added" | "modified" | "deleted" | "renamed";
  additions?: number;
  deletions?: number;
}

/** Where an existing checkout stood before it caught up with the remote, and where it stands after. */
export interface SyncResult {
  fromSha: string | undefined;
  toSha: string | undefined;
  /** Commits the fast-forward brought in (0 when the checkout was up to date or kept its own commits). */
  behind: number;
}

/** The network half of preparing an existing checkout, run while the agent already reads. */
export type DeferredSync = () => Promise<SyncResult>;

/** What `Git.prepare` needs of the session's remote (see `scm/remote.ts`). */
export interface PrepareRemote {
  readonly url: string;
  /**
   * Fetches the remote's branches (and tags) into the checkout's `refs/remotes/origin/*`; with
   * `pullRequestHead`, also that pull request's head (`refs/pull/<n>/head`, where GitHub keeps a
   * fork's commits) as `origin/pull/<n>/head`.
   */
  fetch(options?: { pullRequestHead?: number }): Promise<void>;
}

/**
 * The pull request whose head a base branch names: a fork's session starts from
 * `pull/<n>/head`, which is no branch of the repository but the ref GitHub keeps for it.
 */
export function pullRequestHeadOf(baseBranch: string): number | undefined {
  const match = /^pull\/([1-9][0-9]{0,9})\/head$/.exec(baseBranch);
  return match ? Number(match[1]) : undefined;
}

function fetchOptions(baseBranch: string): { pullRequestHead?: number } {
  const pullRequestHead = pullRequestHeadOf(baseBranch);
  return pullRequestHead === undefined ? {} : { pullRequestHead };
}

export interface GitOptions {
  /** The environment git starts from (`LOOKOUT_*` and `GIT_*` are dropped); default the bridge's. */
  env?: NodeJS.ProcessEnv;
  /**
   * Runs every command as this user: the agent's, under `separate-user` isolation, so nothing the
   * agent planted in the checkout ever runs with the bridge's privileges, and everything git
   * writes stays the agent's.
   */
  user?: AgentUser;
}

/**
 * Git in the sandbox's checkout, for everything that needs no credential (status, add, commit,
 * diff, log, refs, and fetching from the bridge's transport repository). Every command is hardened
 * (`HARDENED_GIT_CONFIG`, `repositoryOverrides`, `--no-pager`); branch names are validated before
 * use; identities travel in `GIT_AUTHOR_*`/`GIT_COMMITTER_*` per command, never in config.
 */
export class Git {
  constructor(
    readonly workdir: string,
    private readonly committer: GitIdentity,
    private readonly logger: Logger,
    private readonly options: GitOptions = {},
  ) {}

  /** The user the checkout's git commands run as, if not the bridge's own. */
  get user(): AgentUser | undefined {
    return this.options.user;
  }

  /**
   * Runs one command in the checkout. The repository's configuration is read first (reading runs
   * nothing) and every program-naming key in it is turned off for this command.
   */
  async run(
    args: readonly string[],
    options: { cwd?: string; env?: Record<string, string>; okCodes?: readonly number[] } = {},
  ): Promise<GitResult> {
    const cwd = options.cwd ?? this.workdir;
    const fixed = [...HARDENED_GIT_CONFIG, ...protocolPolicy("file")];
    const listed = await execGit(["config", "--list", "--includes", "-z"], {
      cwd,
      env: gitEnvironment(this.baseEnv, fixed),
      user: this.options.user,
      okCodes: [0, 1, 128],
    });
    if (listed.code !== 0) throw new GitError(["config", "--list"], listed.code, listed.stderr);
    return execGit(args, {
      cwd,
      env: { ...gitEnvironment(this.baseEnv, [...fixed, ...repositoryOverrides(listed.stdout)]), ...options.env },
      user: this.options.user,
      okCodes: options.okCodes,
    });
  }

  private get baseEnv(): NodeJS.ProcessEnv {
    return this.options.env ?? process.env;
  }

  /**
   * Makes the workdir a checkout of `branch`: if there is no repository yet, initialises one and
   * fetches the remote into it (a clone, with the network part done by the remote), then switches
   * to the session branch — resuming it if it exists (locally or on origin), otherwise creating it
   * from the base branch. Runs before OpenCode starts, so no process of the agent runs meanwhile.
   *
   * A work tree that already exists (a repository image or a snapshot) is switched with what it
   * holds, without the network: the fetch and the fast-forward are returned as a `DeferredSync`
   * for the caller to run while the agent already reads (`sync-gate.ts`). Undefined when there is
   * nothing to catch up with (a fresh clone, or no remote).
   */
  async prepare(options: { remote: PrepareRemote | undefined; baseBranch: string; branch: string }): Promise<DeferredSync | undefined> {
    const { remote, branch, baseBranch } = options;
    for (const name of [baseBranch, branch]) {
      const check = checkBranchName(name);
      if (!check.ok) throw new Error(`Refusing branch name ${JSON.stringify(name)}: it ${check.reason}.`);
    }
    const user = this.options.user;
    let deferred: DeferredSync | undefined;
    if (!this.hasCheckout()) {
      if (!remote) throw new Error(`${this.workdir} holds no git repository and LOOKOUT_REPO_URL is not set.`);
      await mkdir(this.workdir, { recursive: true });
      if (user) await givePaths([this.workdir], user);
      this.logger.info("cloning repository", { workdir: this.workdir });
      await this.run(["init", "--quiet", `--initial-branch=${baseBranch}`]);
      await this.run(["remote", "add", REMOTE_NAME, remote.url]);
      await remote.fetch(fetchOptions(baseBranch));
    } else {
      // A checkout restored from a snapshot: whoever owned its files before, they are the agent's now.
      if (user) await giveTree(this.workdir, user);
      if (remote) {
        await this.pointAt(remote);
        deferred = () => this.syncWithRemote(remote, baseBranch, branch);
      }
    }
    // One git process lists the four refs that decide where the session branch comes from (this
    // runs on the critical path of every start, where each git process costs 10–20 ms).
    const refs = await this.existingRefs([
      `refs/heads/${branch}`,
      `refs/remotes/origin/${branch}`,
      `refs/heads/${baseBranch}`,
      `refs/remotes/origin/${baseBranch}`,
    ]);
    let unborn = false;
    if (refs.has(`refs/heads/${branch}`)) {
      await this.run(["switch", "--quiet", branch]);
    } else if (refs.has(`refs/remotes/origin/${branch}`)) {
      await this.run(["switch", "--quiet", "--create", branch, "--track", `origin/${branch}`]);
    } else if (refs.has(`refs/heads/${baseBranch}`)) {
      await this.run(["switch", "--quiet", "--create", branch, `refs/heads/${baseBranch}`]);
    } else if (refs.has(`refs/remotes/origin/${baseBranch}`)) {
      await this.run(["switch", "--quiet", "--no-track", "--create", branch, `refs/remotes/origin/${baseBranch}`]);
    } else if (await this.head()) {
      this.logger.warn("base branch not found; branching from HEAD", { baseBranch });
      await this.run(["switch", "--quiet", "--create", branch]);
    } else {
      // A repository without commits: point the unborn HEAD at the session branch.
      await this.run(["symbolic-ref", "HEAD", `refs/heads/${branch}`]);
      unborn = true;
    }
    // As after a clone, the base branch exists locally too (it does already when it is the branch just switched to).
    const localBase = refs.has(`refs/heads/${baseBranch}`) || (branch === baseBranch && !unborn);
    if (!localBase && refs.has(`refs/remotes/origin/${baseBranch}`)) {
      await this.run(["branch", "--quiet", "--track", baseBranch, `refs/remotes/origin/${baseBranch}`]);
    }
    this.logger.info("repository ready", { branch, syncDeferred: deferred !== undefined });
    return deferred;
  }

  /**
   * Points `origin` at the remote's URL in a checkout that already exists (an image or a
   * snapshot, whose remote may predate a gateway address change).
   */
  private async pointAt(remote: PrepareRemote): Promise<void> {
    const current = await this.run(["remote", "get-url", REMOTE_NAME], { okCodes: [0, 2, 128] });
    if (current.code !== 0) await this.run(["remote", "add", REMOTE_NAME, remote.url]);
    else if (current.stdout.trim() !== remote.url) await this.run(["remote", "set-url", REMOTE_NAME, remote.url]);
  }

  /**
   * Brings an existing checkout up to the remote: fetches, moves the local base branch forward to
   * `origin/<base>` when it is checked out nowhere, and fast-forwards the checked-out session
   * branch to `origin/<branch>` (someone pushed to it) or, when that does not exist, to
   * `origin/<base>` (a branch just made from an image's older base). Only fast-forwards: a branch
   * with commits of its own stays where it is. Throws when the fetch or the fast-forward fails;
   * the work tree is then as it was.
   */
  async syncWithRemote(remote: PrepareRemote, baseBranch: string, branch: string): Promise<SyncResult> {
    const fromSha = await this.head();
    await remote.fetch(fetchOptions(baseBranch));
    const upstreamBase = `refs/remotes/${REMOTE_NAME}/${baseBranch}`;
    const current = await this.currentBranch();
    if (current !== baseBranch && (await this.refExists(`refs/heads/${baseBranch}`)) && (await this.refExists(upstreamBase))) {
      const local = (await this.run(["rev-parse", `refs/heads/${baseBranch}`])).stdout.trim();
      if (await this.isAncestor(local, upstreamBase)) {
        await this.run(["update-ref", `refs/heads/${baseBranch}`, upstreamBase, local]);
      }
    }
    const upstreamBranch = `refs/remotes/${REMOTE_NAME}/${branch}`;
    const target = (await this.refExists(upstreamBranch))
      ? upstreamBranch
      : (await this.refExists(upstreamBase))
        ? upstreamBase
        : undefined;
    if (target && fromSha && (await this.isAncestor(fromSha, target))) {
      await this.run(["merge", "--quiet", "--ff-only", "--no-edit", target]);
    } else if (target && fromSha) {
      this.logger.info("the session branch has commits of its own; not fast-forwarded", { branch, target });
    }
    const toSha = await this.head();
    const behind =
      fromSha && toSha && fromSha !== toSha ? Number((await this.run(["rev-list", "--count", `${fromSha}..${toSha}`])).stdout.trim()) : 0;
    return { fromSha, toSha, behind };
  }

  private async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const result = await this.run(["merge-base", "--is-ancestor", ancestor, descendant], { okCodes: [0, 1] });
    return result.code === 0;
  }

  /** Whether the workdir already holds a repository (an image or a snapshot): `prepare` then defers the sync when there is a remote. */
  hasCheckout(): boolean {
    return existsSync(join(this.workdir, ".git"));
  }

  /** Which of `refs` (full names) exist, in one git process. */
  async existingRefs(refs: readonly string[]): Promise<Set<string>> {
    // A pattern also matches refs below it (refs/heads/main/x), so the answer is filtered to the exact names.
    const result = await this.run(["for-each-ref", "--format=%(refname)", ...refs]);
    const wanted = new Set(refs);
    return new Set(result.stdout.split("\n").filter((name) => wanted.has(name)));
  }

  async refExists(ref: string): Promise<boolean> {
    const result = await this.run(["rev-parse", "--verify", "--quiet", ref], { okCodes: [0, 1, 128] });
    return result.code === 0;
  }

  /** The commit HEAD points at, or undefined in a repository without commits. */
  async head(): Promise<string | undefined> {
    const result = await this.run(["rev-parse", "--verify", "--quiet", "HEAD"], { okCodes: [0, 1, 128] });
    return result.code === 0 ? result.stdout.trim() : undefined;
  }

  async currentBranch(): Promise<string> {
    const result = await this.run(["symbolic-ref", "--quiet", "--short", "HEAD"], { okCodes: [0, 1, 128] });
    return result.code === 0 ? result.stdout.trim() : "HEAD";
  }

  /** Stages everything and commits it as `author`; returns the new commit, or undefined if nothing changed. */
  async commitAll(message: string, author: GitIdentity): Promise<string | undefined> {
    await this.run(["add", "--all"]);
    const staged = await this.run(["diff", "--cached", "--quiet", "--no-ext-diff", "--no-textconv"], { okCodes: [0, 1] });
    if (staged.code === 0) return undefined;
    // Repository hooks are skipped: the agent's work is committed whatever a local linter thinks.
    await this.run(["commit", "--quiet", "--no-verify", "-m", message], {
      env: {
        GIT_AUTHOR_NAME: author.name,
        GIT_AUTHOR_EMAIL: author.email,
        GIT_COMMITTER_NAME: this.committer.name,
        GIT_COMMITTER_EMAIL: this.committer.email,
      },
    });
    return this.head();
  }

  /** Files changed between two commits (or the empty tree), with line counts and the unified diff. */
  async changesBetween(from: string | undefined, to: string): Promise<{ files: ChangedFile[]; diff: string }> {
    const base = from ?? EMPTY_TREE;
    const diffArgs = ["diff", "--no-ext-diff", "--no-textconv", "--find-renames"];
    const [nameStatus, numstat, diff] = await Promise.all([
      this.run([...diffArgs, "--name-status", "-z", base, to]),
      this.run([...diffArgs, "--numstat", "-z", base, to]),
      this.run([...diffArgs, "--no-color", base, to]),
    ]);
    const counts = parseNumstat(numstat.stdout);
    const files = parseNameStatus(nameStatus.stdout)
      .slice(0, MAX_CHANGED_FILES)
      .map((file) => ({ ...file, ...counts.get(file.path) }));
    return { files, diff: truncateMiddle(diff.stdout, MAX_DIFF_CHARS) };
  }
}

/** Parses `git diff --name-status -z`: `M\0path\0`, `R100\0old\0new\0`, … */
export function parseNameStatus(output: string): ChangedFile[] {
  const fields = output.split("\0");
  const files: ChangedFile[] = [];
  for (let i = 0; i < fields.length;) {
    const status = fields[i++] ?? "";
    if (status === "") continue;
    const letter = status[0];
    if (letter === "R" || letter === "C") {
      i++; // the old path
      const path = fields[i++];
      if (path) files.push({ path, change: letter === "R" ? "renamed" : "added" });
      continue;
    }
    const path = fields[i++];
    if (!path) continue;
    files.push({ path, change: letter === "A" ? "added" : letter === "D" ? "deleted" : "modified" });
  }
  return files;
}

/** Parses `git diff --numstat -z` into counts by (new) path; binary files have no counts. */
export function parseNumstat(output: string): Map<string, { additions?: number; deletions?: number }> {
  const counts = new Map<string, { additions?: number; deletions?: number }>();
  const fields = output.split("\0");
  for (let i = 0; i < fields.length;) {
    const record = fields[i++] ?? "";
    if (record === "") continue;
    const [added = "-", deleted = "-", inlinePath = ""] = record.split("\t");
    let path = inlinePath;
    if (path === "") {
      // A rename: the record is followed by the old and the new path.
      i++;
      path = fields[i++] ?? "";
    }
    const entry: { additions?: number; deletions?: number } = {};
    if (added !== "-") entry.additions = Number(added);
    if (deleted !== "-") entry.deletions = Number(deleted);
    counts.set(path, entry);
  }
  return counts;
}
