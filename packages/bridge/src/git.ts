import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { checkBranchName } from "./branch";
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
 * Git in the sandbox's checkout. Every command is `execFile("git", argv)`: no shell ever sees a
 * ref, path or message, and branch names are validated before use. Identities travel in
 * `GIT_AUTHOR_*`/`GIT_COMMITTER_*` per command, never in global config.
 */
export class Git {
  constructor(
    readonly workdir: string,
    private readonly committer: GitIdentity,
    private readonly logger: Logger,
    private readonly baseEnv: NodeJS.ProcessEnv = process.env,
  ) {}

  run(
    args: readonly string[],
    options: { cwd?: string; env?: Record<string, string>; okCodes?: readonly number[] } = {},
  ): Promise<GitResult> {
    const okCodes = options.okCodes ?? [0];
    return new Promise((resolve, reject) => {
      execFile(
        "git",
        // No repository hook runs in the bridge's git: hooks are files the agent can write, and
        // the bridge's environment holds the sandbox token.
        ["-c", "core.hooksPath=/dev/null", ...args],
        {
          cwd: options.cwd ?? this.workdir,
          env: { ...this.baseEnv, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...options.env },
          maxBuffer: MAX_GIT_OUTPUT_BYTES,
          encoding: "utf8",
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
          if (okCodes.includes(code)) resolve({ stdout, stderr, code });
          else reject(new GitError(args, code, stderr || (error?.message ?? "")));
        },
      );
    });
  }

  /**
   * Makes the workdir a checkout of `branch`: clones `repoUrl` if there is no repository yet,
   * then switches to the session branch — resuming it if it exists (locally or on origin),
   * otherwise creating it from the base branch.
   */
  async prepare(options: { repoUrl: string | undefined; baseBranch: string; branch: string }): Promise<void> {
    for (const name of [options.baseBranch, options.branch]) {
      const check = checkBranchName(name);
      if (!check.ok) throw new Error(`Refusing branch name ${JSON.stringify(name)}: it ${check.reason}.`);
    }
    if (!existsSync(join(this.workdir, ".git"))) {
      if (!options.repoUrl) throw new Error(`${this.workdir} holds no git repository and LOOKOUT_REPO_URL is not set.`);
      await mkdir(dirname(this.workdir), { recursive: true });
      this.logger.info("cloning repository", { workdir: this.workdir });
      await this.run(["clone", "--quiet", "--", options.repoUrl, this.workdir], { cwd: dirname(this.workdir) });
    } else if (options.repoUrl) {
      await this.useRemote(options.repoUrl);
    }
    const { branch, baseBranch } = options;
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
    this.logger.info("repository ready", { branch, head: await this.head() });
  }

  /**
   * Points `origin` at `url` in a checkout that already exists (restored from a snapshot, whose
   * remote may predate a gateway address change) and fetches, so the remote-tracking refs say
   * what the remote has. A failed fetch is only a warning: the work in the checkout is intact.
   */
  async useRemote(url: string): Promise<void> {
    const current = await this.run(["remote", "get-url", "origin"], { okCodes: [0, 2, 128] });
    if (current.code !== 0) await this.run(["remote", "add", "origin", url]);
    else if (current.stdout.trim() !== url) await this.run(["remote", "set-url", "origin", url]);
    const fetched = await this.run(["fetch", "--quiet", "--prune", "origin"], { okCodes: [0, 1, 128] });
    if (fetched.code !== 0) this.logger.warn("fetching origin failed", { error: fetched.stderr.trim().slice(0, 500) });
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
    const staged = await this.run(["diff", "--cached", "--quiet"], { okCodes: [0, 1] });
    if (staged.code === 0) return undefined;
    // Repository hooks are skipped: the agent's work is committed whatever a local linter thinks.
    await this.run(["-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", message], {
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
    const [nameStatus, numstat, diff] = await Promise.all([
      this.run(["diff", "--no-ext-diff", "--find-renames", "--name-status", "-z", base, to]),
      this.run(["diff", "--no-ext-diff", "--find-renames", "--numstat", "-z", base, to]),
      this.run(["diff", "--no-ext-diff", "--no-color", "--find-renames", base, to]),
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
