import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Git, parseNameStatus, parseNumstat } from "./git";
import { silentLogger } from "./logger";
import { SessionRemote } from "./scm/remote";

const bot = { name: "Lookout", email: "bot@lookout.local" };
const alice = { name: "Alice", email: "alice@example.com" };
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lookout-git-"));
  dirs.push(dir);
  return dir;
}

function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "Seed", GIT_AUTHOR_EMAIL: "seed@x", GIT_COMMITTER_NAME: "Seed", GIT_COMMITTER_EMAIL: "seed@x" },
  }).trim();
}

/** A repository with one commit on `main`. */
function seededRepo(): string {
  const dir = join(tempDir(), "repo");
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", dir]);
  writeFileSync(join(dir, "a.txt"), "one\ntwo\n");
  sh(dir, "add", "a.txt");
  sh(dir, "commit", "--quiet", "-m", "seed");
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The session's remote at `url` (a local path here: no credential), with its own transport directory. */
function remoteFor(git: Git, url: string): SessionRemote {
  return new SessionRemote({ url, git, dir: tempDir(), credentials: undefined, logger: silentLogger });
}

describe("Git.prepare", () => {
  it("asks for refs by exact name: a branch below the name is not the branch", async () => {
    const repo = seededRepo();
    sh(repo, "branch", "feature/one");
    const git = new Git(repo, bot, silentLogger);
    expect(await git.existingRefs(["refs/heads/feature", "refs/heads/main", "refs/remotes/origin/main"])).toEqual(
      new Set(["refs/heads/main"]),
    );
    // So a session branch named like the directory of another is created, not mistaken for it.
    await git.prepare({ remote: undefined, baseBranch: "main", branch: "feature/one" });
    expect(await git.currentBranch()).toBe("feature/one");
  });

  it("creates the session branch from the base branch", async () => {
    const repo = seededRepo();
    const git = new Git(repo, bot, silentLogger);
    await git.prepare({ remote: undefined, baseBranch: "main", branch: "lookout/s1" });
    expect(await git.currentBranch()).toBe("lookout/s1");
    expect(await git.head()).toBe(sh(repo, "rev-parse", "main"));
  });

  it("resumes an existing session branch", async () => {
    const repo = seededRepo();
    sh(repo, "switch", "--quiet", "-c", "lookout/s1");
    writeFileSync(join(repo, "b.txt"), "b\n");
    sh(repo, "add", "b.txt");
    sh(repo, "commit", "--quiet", "-m", "work");
    const tip = sh(repo, "rev-parse", "HEAD");
    sh(repo, "switch", "--quiet", "main");
    const git = new Git(repo, bot, silentLogger);
    await git.prepare({ remote: undefined, baseBranch: "main", branch: "lookout/s1" });
    expect(await git.head()).toBe(tip);
  });

  it("clones when the workdir has no repository, tracking the remote session branch if it exists", async () => {
    const origin = seededRepo();
    sh(origin, "branch", "lookout/s2");
    const workdir = join(tempDir(), "nested", "repo");
    const git = new Git(workdir, bot, silentLogger);
    await git.prepare({ remote: remoteFor(git, origin), baseBranch: "main", branch: "lookout/s2" });
    expect(await git.currentBranch()).toBe("lookout/s2");
    expect(sh(workdir, "rev-parse", "--abbrev-ref", "lookout/s2@{upstream}")).toBe("origin/lookout/s2");
    expect(readFileSync(join(workdir, "a.txt"), "utf8")).toBe("one\ntwo\n");
    // As after a clone: the base branch exists locally, and the checkout stands on its own.
    expect(sh(workdir, "rev-parse", "main")).toBe(sh(origin, "rev-parse", "main"));
    expect(sh(workdir, "remote", "get-url", "origin")).toBe(origin);
    expect(existsSync(join(workdir, ".git", "objects", "info", "alternates"))).toBe(false);
    sh(workdir, "fsck", "--connectivity-only", "--no-dangling");
  });

  it("branches from origin's base branch in a fresh clone", async () => {
    const origin = seededRepo();
    sh(origin, "branch", "develop");
    const workdir = join(tempDir(), "repo");
    const git = new Git(workdir, bot, silentLogger);
    await git.prepare({ remote: remoteFor(git, origin), baseBranch: "develop", branch: "lookout/s3" });
    expect(await git.currentBranch()).toBe("lookout/s3");
  });

  it("starts a fork's session on its pull request head, which is in no branch (refs/pull/<n>/head)", async () => {
    const origin = seededRepo();
    // GitHub keeps a fork's commits at refs/pull/<n>/head only; no branch of the repository has them.
    sh(origin, "switch", "--quiet", "--create", "fork-work");
    writeFileSync(join(origin, "a.txt"), "one\ntwo, from the fork\n");
    sh(origin, "commit", "--quiet", "-am", "the fork's change");
    const forkHead = sh(origin, "rev-parse", "HEAD");
    sh(origin, "update-ref", "refs/pull/7/head", forkHead);
    sh(origin, "switch", "--quiet", "main");
    sh(origin, "branch", "--quiet", "-D", "fork-work");

    const workdir = join(tempDir(), "repo");
    const git = new Git(workdir, bot, silentLogger);
    await git.prepare({ remote: remoteFor(git, origin), baseBranch: "pull/7/head", branch: "lookout/fork" });
    expect(await git.currentBranch()).toBe("lookout/fork");
    expect(await git.head()).toBe(forkHead);
    expect(readFileSync(join(workdir, "a.txt"), "utf8")).toContain("from the fork");
  });

  it("fetches no pull request head for an ordinary base branch", async () => {
    const origin = seededRepo();
    sh(origin, "update-ref", "refs/pull/7/head", sh(origin, "rev-parse", "HEAD"));
    const workdir = join(tempDir(), "repo");
    const git = new Git(workdir, bot, silentLogger);
    await git.prepare({ remote: remoteFor(git, origin), baseBranch: "main", branch: "lookout/s4" });
    expect(sh(workdir, "for-each-ref", "--format=%(refname)", "refs/remotes/origin/pull")).toBe("");
  });

  it("points an existing checkout (a restored snapshot) at the remote and leaves the fetch to the deferred sync", async () => {
    const origin = seededRepo();
    const restored = seededRepo();
    sh(origin, "commit", "--quiet", "--allow-empty", "-m", "moved on");
    const git = new Git(restored, bot, silentLogger);
    const sync = await git.prepare({ remote: remoteFor(git, origin), baseBranch: "main", branch: "lookout/s4" });
    expect(sh(restored, "remote", "get-url", "origin")).toBe(origin);
    expect(await git.refExists("refs/remotes/origin/main")).toBe(false);
    expect(sync).toBeDefined();
    await sync?.();
    expect(sh(restored, "rev-parse", "origin/main")).toBe(sh(origin, "rev-parse", "main"));
    // A moved remote (the gateway's address changed) is followed; an unreachable one fails only the sync.
    const moved = join(tempDir(), "moved");
    sh(tempDir(), "clone", "--quiet", "--bare", origin, moved);
    await git.prepare({ remote: remoteFor(git, moved), baseBranch: "main", branch: "lookout/s4" });
    expect(sh(restored, "remote", "get-url", "origin")).toBe(moved);
    const unreachable = await git.prepare({ remote: remoteFor(git, join(tempDir(), "gone")), baseBranch: "main", branch: "lookout/s4" });
    expect(await git.currentBranch()).toBe("lookout/s4");
    await expect(unreachable?.()).rejects.toThrow();
  });

  it("syncs a checkout from an older image: fast-forwards the new session branch and the base, counting the commits", async () => {
    const origin = seededRepo();
    const image = join(tempDir(), "image");
    sh(tempDir(), "clone", "--quiet", origin, image);
    const imageSha = sh(image, "rev-parse", "HEAD");
    writeFileSync(join(origin, "new.txt"), "after the image\n");
    sh(origin, "add", "new.txt");
    sh(origin, "commit", "--quiet", "-m", "after the image");
    sh(origin, "commit", "--quiet", "--allow-empty", "-m", "and another");
    const git = new Git(image, bot, silentLogger);
    const sync = await git.prepare({ remote: remoteFor(git, origin), baseBranch: "main", branch: "lookout/s5" });
    // Prepared from what the image holds, without the network.
    expect(await git.currentBranch()).toBe("lookout/s5");
    expect(await git.head()).toBe(imageSha);
    expect(existsSync(join(image, "new.txt"))).toBe(false);
    const result = await sync?.();
    expect(result).toEqual({ fromSha: imageSha, toSha: sh(origin, "rev-parse", "main"), behind: 2 });
    expect(readFileSync(join(image, "new.txt"), "utf8")).toBe("after the image\n");
    expect(sh(image, "rev-parse", "main")).toBe(sh(origin, "rev-parse", "main"));
    expect(await git.currentBranch()).toBe("lookout/s5");
  });

  it("does not move a session branch with commits of its own", async () => {
    const origin = seededRepo();
    const restored = join(tempDir(), "restored");
    sh(tempDir(), "clone", "--quiet", origin, restored);
    sh(restored, "switch", "--quiet", "--create", "lookout/s6");
    sh(restored, "commit", "--quiet", "--allow-empty", "-m", "the session's own work");
    const own = sh(restored, "rev-parse", "HEAD");
    sh(origin, "commit", "--quiet", "--allow-empty", "-m", "base moved");
    const git = new Git(restored, bot, silentLogger);
    const sync = await git.prepare({ remote: remoteFor(git, origin), baseBranch: "main", branch: "lookout/s6" });
    expect(await sync?.()).toEqual({ fromSha: own, toSha: own, behind: 0 });
    // The base branch, checked out nowhere, still follows the remote.
    expect(sh(restored, "rev-parse", "main")).toBe(sh(origin, "rev-parse", "main"));
  });

  it("refuses unsafe branch names before running git and a missing repository without a URL", async () => {
    const git = new Git(seededRepo(), bot, silentLogger);
    await expect(git.prepare({ remote: undefined, baseBranch: "main", branch: "--upload-pack=evil" })).rejects.toThrow(
      /Refusing branch name/,
    );
    const empty = new Git(join(tempDir(), "none"), bot, silentLogger);
    await expect(empty.prepare({ remote: undefined, baseBranch: "main", branch: "lookout/x" })).rejects.toThrow(/LOOKOUT_REPO_URL/);
  });
});

describe("Git.commitAll and changesBetween", () => {
  it("commits as the author with the bot as committer, and describes the change", async () => {
    const repo = seededRepo();
    const git = new Git(repo, bot, silentLogger);
    const before = await git.head();
    expect(await git.commitAll("nothing", alice)).toBeUndefined();

    writeFileSync(join(repo, "a.txt"), "one\nTWO\nthree\n");
    writeFileSync(join(repo, "new file.txt"), "hello\n");
    const sha = await git.commitAll("Change things\n\nbody", alice);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(sh(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", sha ?? "")).toBe(
      "Alice <alice@example.com>|Lookout <bot@lookout.local>|Change things",
    );

    const { files, diff } = await git.changesBetween(before, sha ?? "");
    expect(files).toEqual([
      { path: "a.txt", change: "modified", additions: 2, deletions: 1 },
      { path: "new file.txt", change: "added", additions: 1, deletions: 0 },
    ]);
    expect(diff).toContain("+TWO");
  });

  it("runs none of the repository's hooks, which the agent could have written", async () => {
    const repo = seededRepo();
    const marker = join(tempDir(), "hook-ran");
    for (const hook of ["post-commit", "pre-commit", "reference-transaction"]) {
      writeFileSync(join(repo, ".git", "hooks", hook), `#!/bin/sh\necho ${hook} >> '${marker}'\n`, { mode: 0o755 });
    }
    writeFileSync(join(repo, "b.txt"), "b\n");
    expect(await new Git(repo, bot, silentLogger).commitAll("Add b", alice)).toMatch(/^[0-9a-f]{40}$/);
    expect(existsSync(marker)).toBe(false);
  });

  it("reports renames and deletions", async () => {
    const repo = seededRepo();
    writeFileSync(join(repo, "c.txt"), "keep me around for rename detection\n".repeat(5));
    sh(repo, "add", "c.txt");
    sh(repo, "commit", "--quiet", "-m", "c");
    const git = new Git(repo, bot, silentLogger);
    const before = await git.head();
    sh(repo, "mv", "c.txt", "d.txt");
    unlinkSync(join(repo, "a.txt"));
    const sha = await git.commitAll("move", alice);
    const { files } = await git.changesBetween(before, sha ?? "");
    expect(files).toEqual([
      { path: "a.txt", change: "deleted", additions: 0, deletions: 2 },
      { path: "d.txt", change: "renamed", additions: 0, deletions: 0 },
    ]);
  });
});

describe("parsers", () => {
  it("parse -z name-status and numstat, including renames and binary files", () => {
    expect(parseNameStatus("M\0a.txt\0R087\0old.txt\0new.txt\0A\0b.bin\0D\0gone\0")).toEqual([
      { path: "a.txt", change: "modified" },
      { path: "new.txt", change: "renamed" },
      { path: "b.bin", change: "added" },
      { path: "gone", change: "deleted" },
    ]);
    const counts = parseNumstat("1\t2\ta.txt\0" + "3\t0\t\0old.txt\0new.txt\0" + "-\t-\tb.bin\0");
    expect(Object.fromEntries(counts)).toEqual({
      "a.txt": { additions: 1, deletions: 2 },
      "new.txt": { additions: 3, deletions: 0 },
      "b.bin": {},
    });
  });
});
