import { execFile } from "node:child_process";
import {
  type GitCompareRequest,
  type GitMergeRequest,
  type GitMergeResponse,
  LookoutError,
  type PullRequestCommit,
  type PullRequestFile,
  type PullRequestReview,
} from "@lookout/protocol";
import type { RepositoryRoots } from "./repo-roots";

/**
 * Git operations on host repositories for local pull requests: list branches, review a branch
 * against its base, and merge it. Every command is `execFile("git", argv)`; branch names are
 * validated by the protocol before they get here and are passed as `refs/heads/<name>`, so no
 * shell sees them and none can be read as an option.
 */
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
/** Largest diff kept in a review; D1 rows and browsers both prefer less. */
export const MAX_REVIEW_DIFF_CHARS = 200_000;
const MAX_REVIEW_COMMITS = 250;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface GitEnvironment {
  /** An empty directory used as HOME (and hooks path), so user configuration and hooks stay out. */
  readonly gitHome: string;
  /** Where host repositories may live; every operation checks its path against them first. */
  readonly roots: RepositoryRoots;
}

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

function git(
  repo: string,
  args: readonly string[],
  env: GitEnvironment,
  options: { okCodes?: readonly number[]; extraEnv?: Record<string, string> } = {},
): Promise<Run> {
  const okCodes = options.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      ["-c", `core.hooksPath=${env.gitHome}`, ...args],
      {
        cwd: repo,
        encoding: "utf8",
        maxBuffer: MAX_OUTPUT_BYTES,
        env: {
          PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
          HOME: env.gitHome,
          LC_ALL: "C",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_CONFIG_GLOBAL: "/dev/null",
          GIT_TERMINAL_PROMPT: "0",
          ...options.extraEnv,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        if (okCodes.includes(code)) resolve({ stdout, stderr, code });
        else reject(new Error(`git ${args[0] ?? ""} failed (exit ${code}): ${stderr.trim().slice(0, 500)}`));
      },
    );
  });
}

async function branchSha(repo: string, branch: string, env: GitEnvironment): Promise<string | null> {
  const result = await git(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}^{commit}`], env, { okCodes: [0, 1, 128] });
  return result.code === 0 ? result.stdout.trim() : null;
}

export async function listBranches(path: string, env: GitEnvironment): Promise<{ name: string; sha: string }[]> {
  const repo = await env.roots.check(path);
  const result = await git(repo, ["for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", "refs/heads/"], env);
  return result.stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const space = line.indexOf(" ");
      return { sha: line.slice(0, space), name: line.slice(space + 1) };
    });
}

/** The review of `head` against `base`: commits on `head` only, and the diff from their merge base. */
export async function compareBranches(request: GitCompareRequest, env: GitEnvironment): Promise<PullRequestReview> {
  const repo = await env.roots.check(request.repositoryPath);
  const baseSha = await branchSha(repo, request.base, env);
  if (!baseSha) throw new LookoutError("NOT_FOUND", `The base branch ${request.base} does not exist in the repository.`);
  const headSha = await branchSha(repo, request.head, env);
  if (!headSha) throw new LookoutError("BRANCH_NOT_PUSHED", `The branch ${request.head} has not been pushed to the repository yet.`);
  const mergeBase = await git(repo, ["merge-base", baseSha, headSha], env, { okCodes: [0, 1] });
  const mergeBaseSha = mergeBase.code === 0 ? mergeBase.stdout.trim() : null;
  const from = mergeBaseSha ?? EMPTY_TREE;
  const [log, nameStatus, numstat, diff] = await Promise.all([
    git(
      repo,
      [
        "log",
        "--reverse",
        `--max-count=${MAX_REVIEW_COMMITS}`,
        "--format=%H%x00%s%x00%an%x00%ae%x00%cn%x00%ce%x00%at%x1e",
        headSha,
        "--not",
        baseSha,
      ],
      env,
    ),
    git(repo, ["diff", "--no-ext-diff", "--find-renames", "--name-status", "-z", from, headSha], env),
    git(repo, ["diff", "--no-ext-diff", "--find-renames", "--numstat", "-z", from, headSha], env),
    git(repo, ["diff", "--no-ext-diff", "--no-color", "--find-renames", from, headSha], env),
  ]);
  const counts = parseNumstat(numstat.stdout);
  const truncated = diff.stdout.length > MAX_REVIEW_DIFF_CHARS;
  return {
    baseSha,
    headSha,
    mergeBaseSha,
    commits: parseLog(log.stdout),
    files: parseNameStatus(nameStatus.stdout).map((file) => ({ ...file, ...counts.get(file.path) })),
    diff: truncated ? truncateMiddle(diff.stdout, MAX_REVIEW_DIFF_CHARS) : diff.stdout,
    diffTruncated: truncated,
  };
}

/**
 * Merges `head` into `base` with a merge commit made without touching any work tree
 * (`git merge-tree --write-tree`), then moves `base`: with a compare-and-swap `update-ref`, or,
 * when `base` is checked out somewhere, with a fast-forward in that work tree so its files follow.
 */
export async function mergeBranches(request: GitMergeRequest, env: GitEnvironment): Promise<GitMergeResponse> {
  const repo = await env.roots.check(request.repositoryPath);
  const headSha = await branchSha(repo, request.head, env);
  if (!headSha) throw new LookoutError("BRANCH_NOT_PUSHED", `The branch ${request.head} does not exist in the repository.`);
  if (headSha !== request.expectedHeadSha) {
    throw new LookoutError(
      "CONFLICT",
      `The branch ${request.head} moved since it was reviewed (now ${headSha.slice(0, 12)}); refresh and review again.`,
    );
  }
  const baseSha = await branchSha(repo, request.base, env);
  if (!baseSha) throw new LookoutError("NOT_FOUND", `The base branch ${request.base} does not exist in the repository.`);
  const alreadyMerged = await git(repo, ["merge-base", "--is-ancestor", headSha, baseSha], env, { okCodes: [0, 1] });
  if (alreadyMerged.code === 0) return { mergeSha: baseSha, baseSha };

  const merged = await git(repo, ["merge-tree", "--write-tree", "--name-only", "--no-messages", baseSha, headSha], env, {
    okCodes: [0, 1],
  });
  const [tree = "", ...conflicted] = merged.stdout.split("\n").filter((line) => line.length > 0);
  if (merged.code === 1) {
    throw new LookoutError(
      "MERGE_CONFLICT",
      `Merging ${request.head} into ${request.base} conflicts in ${conflicted.length} file(s): ${conflicted.slice(0, 10).join(", ")}.`,
      {
        files: conflicted,
      },
    );
  }
  // The message travels as one argv entry, so nothing in it is interpreted.
  const commit = await git(repo, ["commit-tree", tree, "-p", baseSha, "-p", headSha, "-m", request.message], env, {
    extraEnv: {
      GIT_AUTHOR_NAME: request.author.name,
      GIT_AUTHOR_EMAIL: request.author.email,
      GIT_COMMITTER_NAME: request.committer.name,
      GIT_COMMITTER_EMAIL: request.committer.email,
    },
  });
  const mergeSha = commit.stdout.trim();

  const worktree = await worktreeWith(repo, request.base, env);
  if (worktree) {
    const forward = await git(worktree, ["merge", "--ff-only", "--quiet", mergeSha], env, { okCodes: [0, 1, 128] });
    if (forward.code !== 0) {
      throw new LookoutError(
        "CONFLICT",
        `${request.base} is checked out at ${worktree} with changes that block the update (or it moved); commit or stash them and merge again.`,
      );
    }
  } else {
    const update = await git(
      repo,
      ["update-ref", "-m", `lookout: merge ${request.head}`, `refs/heads/${request.base}`, mergeSha, baseSha],
      env,
      { okCodes: [0, 1, 128] },
    );
    if (update.code !== 0) throw new LookoutError("CONFLICT", `${request.base} moved while merging; review and merge again.`);
  }
  return { mergeSha, baseSha };
}

/** The work tree that has `branch` checked out, if any (a bare repository has none). */
async function worktreeWith(repo: string, branch: string, env: GitEnvironment): Promise<string | null> {
  const list = await git(repo, ["worktree", "list", "--porcelain", "-z"], env);
  let current: string | null = null;
  for (const field of list.stdout.split("\0")) {
    if (field.startsWith("worktree ")) current = field.slice("worktree ".length);
    else if (field === `branch refs/heads/${branch}` && current) return current;
  }
  return null;
}

function parseLog(output: string): PullRequestCommit[] {
  return output
    .split("\x1e")
    .map((record) => record.replace(/^\n/, ""))
    .filter((record) => record.length > 0)
    .map((record) => {
      const [sha = "", subject = "", authorName = "", authorEmail = "", committerName = "", committerEmail = "", at = "0"] =
        record.split("\0");
      return {
        sha,
        subject,
        author: { name: authorName, email: authorEmail },
        committer: { name: committerName, email: committerEmail },
        authoredAt: Number(at) * 1000,
      };
    });
}

/** Parses `git diff --name-status -z`: `M\0path\0`, `R100\0old\0new\0`, … */
export function parseNameStatus(output: string): PullRequestFile[] {
  const fields = output.split("\0");
  const files: PullRequestFile[] = [];
  for (let i = 0; i < fields.length;) {
    const status = fields[i++] ?? "";
    if (status === "") continue;
    const letter = status[0];
    if (letter === "R" || letter === "C") {
      i++;
      const path = fields[i++];
      if (path) files.push({ path, change: letter === "R" ? "renamed" : "added" });
      continue;
    }
    const path = fields[i++];
    if (path) files.push({ path, change: letter === "A" ? "added" : letter === "D" ? "deleted" : "modified" });
  }
  return files;
}

function parseNumstat(output: string): Map<string, { additions?: number; deletions?: number }> {
  const counts = new Map<string, { additions?: number; deletions?: number }>();
  const fields = output.split("\0");
  for (let i = 0; i < fields.length;) {
    const record = fields[i++] ?? "";
    if (record === "") continue;
    const [added = "-", deleted = "-", inlinePath = ""] = record.split("\t");
    let path = inlinePath;
    if (path === "") {
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

function truncateMiddle(text: string, max: number): string {
  const marker = `\n… ${text.length - max} characters omitted …\n`;
  const keep = Math.max(0, max - marker.length);
  return text.slice(0, Math.ceil(keep / 2)) + marker + text.slice(text.length - Math.floor(keep / 2));
}
