import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { checkBranchName } from "./branch";
import { giveTree, givePaths, type AgentUser } from "./isolation";
import type { Logger } from "./logger";
import { truncateMiddle } from "./translator";

/** The hash of git's empty tree: the "before" of a repository without commits. */
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
/** Largest diff text sent in `files.changed`; the frame limit is 256 KiB and JSON escaping grows text. */
export const MAX_DIFF_CHARS = 96_000;
/** Most files listed in `files.changed` (the protocol's limit). */
export const MAX_CHANGED_FILES = 5_000;
/** Output cap for one git command, so a huge diff cannot exhaust memory. */
const MAX_GIT_OUTPUT_BYTES = 64 * 1024 * 1024;
/** The longest one git command of the bridge may take (a FIFO planted as a config file would block it forever). */
export const GIT_TIMEOUT_MS = 10 * 60_000;
/** The remote name the session's repository is known by in the checkout. */
export const REMOTE_NAME = "origin";

/**
 * Configuration every git command of the bridge runs with, at command scope (after, so above, the
 * repository's own). The checkout belongs to the agent, which can write `.git/config`, hooks,
 * `.gitattributes` and everything they point at; none of it may make the bridge's git run a
 * program: hooks, the fsmonitor hook, external diff, the pager, askpass, credential helpers,
 * signing and submodule recursion are all turned off here, and the drivers a repository defines
 * by name are turned off by `repositoryOverrides`. `safe.directory` lets the bridge's git work in
 * a checkout another user owns: that protection is for exactly what these settings do instead.
 */
export const HARDENED_GIT_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["core.sshCommand", ""],
  ["core.askPass", ""],
  ["core.pager", "cat"],
  ["core.editor", ":"],
  ["core.attributesFile", "/dev/null"],
  ["core.alternateRefsCommand", ""],
  ["diff.external", ""],
  ["credential.helper", ""],
  ["commit.gpgSign", "false"],
  ["tag.gpgSign", "false"],
  ["log.showSignature", "false"],
  ["submodule.recurse", "false"],
  ["fetch.recurseSubmodules", "false"],
  ["push.recurseSubmodules", "no"],
  ["gc.auto", "0"],
  ["maintenance.auto", "false"],
  ["protocol.ext.allow", "never"],
  ["safe.directory", "*"],
];

/**
 * Keys a repository's configuration may name a program with, per driver or remote name (so no
 * fixed list can cover them), and the value that turns each off. An emptied command is never run:
 * filters and the fsmonitor skip it, and a textconv or external diff fails instead of running.
 */
const DRIVER_KEYS: ReadonlyArray<{ pattern: RegExp; value: string }> = [
  { pattern: /^filter\..+\.(clean|smudge|process)$/, value: "" },
  { pattern: /^filter\..+\.required$/, value: "false" },
  { pattern: /^diff\..+\.(textconv|command)$/, value: "" },
  { pattern: /^merge\..+\.driver$/, value: "" },
  { pattern: /^remote\..+\.(uploadpack|receivepack|vcs)$/, value: "" },
];

/**
 * Overrides for every program-naming key in `git config --list --includes -z` output (included
 * files count: `include.path` and `includeIf` pull keys in from anywhere the agent can write).
 */
export function repositoryOverrides(configList: string): Array<[string, string]> {
  const overrides = new Map<string, string>();
  for (const entry of configList.split("\0")) {
    const newline = entry.indexOf("\n");
    const key = newline === -1 ? entry : entry.slice(0, newline);
    const rule = DRIVER_KEYS.find(({ pattern }) => pattern.test(key));
    if (rule) overrides.set(key, rule.value);
  }
  return [...overrides];
}

/**
 * The environment of one git command: the given one without `LOOKOUT_*` (the bridge's contract)
 * and `GIT_*` (which could point git anywhere), with no system or global configuration, no prompts,
 * and `config` at command scope through `GIT_CONFIG_COUNT` (never on the command line, which every
 * process can read: the push credential travels this way).
 */
export function gitEnvironment(base: NodeJS.ProcessEnv, config: ReadonlyArray<readonly [string, string]>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!key.startsWith("LOOKOUT_") && !key.startsWith("GIT_") && key !== "SSH_ASKPASS") env[key] = value;
  }
  Object.assign(env, {
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "",
    GIT_PAGER: "cat",
    GIT_EDITOR: ":",
    LC_ALL: "C",
    GIT_CONFIG_COUNT: String(config.length),
  });
  config.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  return env;
}

/** The protocol policy: only `allowed` (the session's remote's, or local paths) may be used. */
export function protocolPolicy(allowed: string): Array<[string, string]> {
  return [
    ["protocol.allow", "never"],
    [`protocol.${allowed}.allow`, "always"],
  ];
}

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

export interface GitUser {
  uid: number;
  gid: number;
}

export interface GitResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class GitError extends Error {
  override readonly name = "GitError";
  constructor(
    readonly args: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`git ${args[0] ?? ""} failed (exit ${code}): ${stderr.trim().slice(0, 500)}`);
  }
}

/**
 * Runs `git <args>` with `execFile`: no shell ever sees a ref, path or message. Resolves with the
 * result when the exit code is in `okCodes`, else rejects with a `GitError`.
 */
export function execGit(
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; user?: GitUser; okCodes?: readonly number[] },
): Promise<GitResult> {
  const okCodes = options.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      ["--no-pager", ...args],
      {
        cwd: options.cwd,
        env: options.env,
        maxBuffer: MAX_GIT_OUTPUT_BYTES,
        timeout: GIT_TIMEOUT_MS,
        killSignal: "SIGKILL",
        encoding: "utf8",
        ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        if (okCodes.includes(code)) resolve({ stdout, stderr, code });
        else reject(new GitError(args, code, stderr || (error?.message ?? "")));
      },
    );
  });
}

/** What `Git.prepare` needs of the session's remote (see `scm/remote.ts`). */
export interface PrepareRemote {
  readonly url: string;
  /** Fetches the remote's branches (and tags) into the checkout's `refs/remotes/origin/*`. */
  fetch(): Promise<void>;
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
   */
  async prepare(options: { remote: PrepareRemote | undefined; baseBranch: string; branch: string }): Promise<void> {
    const { remote, branch, baseBranch } = options;
    for (const name of [baseBranch, branch]) {
      const check = checkBranchName(name);
      if (!check.ok) throw new Error(`Refusing branch name ${JSON.stringify(name)}: it ${check.reason}.`);
    }
    const user = this.options.user;
    if (!existsSync(join(this.workdir, ".git"))) {
      if (!remote) throw new Error(`${this.workdir} holds no git repository and LOOKOUT_REPO_URL is not set.`);
      await mkdir(this.workdir, { recursive: true });
      if (user) await givePaths([this.workdir], user);
      this.logger.info("cloning repository", { workdir: this.workdir });
      await this.run(["init", "--quiet", `--initial-branch=${baseBranch}`]);
      await this.run(["remote", "add", REMOTE_NAME, remote.url]);
      await remote.fetch();
    } else {
      // A checkout restored from a snapshot: whoever owned its files before, they are the agent's now.
      if (user) await giveTree(this.workdir, user);
      if (remote) await this.useRemote(remote);
    }
    if (await this.refExists(`refs/heads/${branch}`)) {
      await this.run(["switch", "--quiet", branch]);
    } else if (await this.refExists(`refs/remotes/origin/${branch}`)) {
      await this.run(["switch", "--quiet", "--create", branch, "--track", `origin/${branch}`]);
    } else if (await this.refExists(`refs/heads/${baseBranch}`)) {
      await this.run(["switch", "--quiet", "--create", branch, `refs/heads/${baseBranch}`]);
    } else if (await this.refExists(`refs/remotes/origin/${baseBranch}`)) {
      await this.run(["switch", "--quiet", "--no-track", "--create", branch, `refs/remotes/origin/${baseBranch}`]);
    } else if (await this.head()) {
      this.logger.warn("base branch not found; branching from HEAD", { baseBranch });
      await this.run(["switch", "--quiet", "--create", branch]);
    } else {
      // A repository without commits: point the unborn HEAD at the session branch.
      await this.run(["symbolic-ref", "HEAD", `refs/heads/${branch}`]);
    }
    // As after a clone, the base branch exists locally too.
    if (!(await this.refExists(`refs/heads/${baseBranch}`)) && (await this.refExists(`refs/remotes/origin/${baseBranch}`))) {
      await this.run(["branch", "--quiet", "--track", baseBranch, `refs/remotes/origin/${baseBranch}`]);
    }
    this.logger.info("repository ready", { branch, head: await this.head() });
  }

  /**
   * Points `origin` at the remote's URL in a checkout that already exists (restored from a
   * snapshot, whose remote may predate a gateway address change) and fetches, so the
   * remote-tracking refs say what the remote has. A failed fetch is only a warning: the work in
   * the checkout is intact.
   */
  async useRemote(remote: PrepareRemote): Promise<void> {
    const current = await this.run(["remote", "get-url", REMOTE_NAME], { okCodes: [0, 2, 128] });
    if (current.code !== 0) await this.run(["remote", "add", REMOTE_NAME, remote.url]);
    else if (current.stdout.trim() !== remote.url) await this.run(["remote", "set-url", REMOTE_NAME, remote.url]);
    try {
      await remote.fetch();
    } catch (error) {
      this.logger.warn("fetching origin failed", { error: error instanceof Error ? error.message.slice(0, 500) : String(error) });
    }
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
