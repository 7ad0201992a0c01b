import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BridgeEventPayload, GitCredentialRequest } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { Git } from "../src/git";
import { repositoryOverrides } from "../src/git-command";
import { silentLogger } from "../src/logger";
import { PushCoordinator } from "../src/scm/push";
import { SessionRemote } from "../src/scm/remote";
import { GitHttpServer } from "./support/git-http-server";

/**
 * The agent owns the checkout: `.git/config`, hooks, `.gitattributes`, `info/attributes` and any
 * file an `include.path` names. The bridge runs git there after every prompt, and its pushes carry
 * a credential. These tests plant every way a repository can name a program to run, and a proxy
 * and rewritten URLs for the credential, and run the bridge's own paths through them.
 */

const bot = { name: "Lookout", email: "bot@lookout.local" };
const alice = { name: "Alice", email: "alice@example.com" };
const PASSWORD = "lgc1.short-lived.credential";
const cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "lookout-hardening-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Plain git, as the agent would run it: the user's and system configuration stay out of the test. */
function plain(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Agent",
      GIT_AUTHOR_EMAIL: "agent@x",
      GIT_COMMITTER_NAME: "Agent",
      GIT_COMMITTER_EMAIL: "agent@x",
    },
  }).trim();
}

/** A command that appends `name` to the marker file, then behaves like `cat` (so filters still work). */
function marking(marker: string, name: string): string {
  return `sh -c 'echo ${name} >> ${marker}; cat' --`;
}

/** Everything a hostile agent can put into the checkout so that git runs something. */
function plantEverything(repo: string, marker: string): void {
  const set = (key: string, value: string) => plain(repo, "config", key, value);
  set("core.fsmonitor", `${marker}.fsmonitor-hook`);
  writeFileSync(`${marker}.fsmonitor-hook`, `#!/bin/sh\necho fsmonitor >> '${marker}'\n`, { mode: 0o755 });
  set("filter.x.clean", marking(marker, "clean"));
  set("filter.x.smudge", marking(marker, "smudge"));
  set("filter.x.required", "true");
  set("filter.p.process", marking(marker, "process"));
  set("diff.external", marking(marker, "external"));
  set("diff.t.textconv", marking(marker, "textconv"));
  set("diff.t.command", marking(marker, "diff-command"));
  set("merge.m.driver", marking(marker, "merge-driver"));
  set("core.pager", marking(marker, "pager"));
  set("pager.diff", marking(marker, "pager-diff"));
  set("core.alternateRefsCommand", marking(marker, "alternate-refs"));
  set("core.askPass", marking(marker, "askpass"));
  set("credential.helper", `!${marking(marker, "credential-helper")}`);
  set("core.sshCommand", marking(marker, "ssh"));
  set("gpg.program", marking(marker, "gpg"));
  set("commit.gpgSign", "true");
  set("log.showSignature", "true");
  // A second file, pulled in by include.path, defines one more filter (only included keys name it).
  const included = join(repo, ".git", "more.config");
  plain(repo, "config", "--file", included, "filter.inc.clean", marking(marker, "included-clean"));
  set("include.path", included);
  writeFileSync(join(repo, ".gitattributes"), "*.txt filter=x diff=t merge=m\n*.p filter=p\n*.inc filter=inc\n");
  writeFileSync(join(repo, ".git", "info", "attributes"), "*.md filter=x diff=t\n");
  // The credential must not go anywhere but the remote: a proxy, other URLs, other headers.
  set("http.proxy", "http://127.0.0.1:9");
  set("http.extraHeader", "X-Planted: yes");
  set("remote.origin.url", "http://127.0.0.1:9/elsewhere.git");
  set("remote.origin.pushurl", "http://127.0.0.1:9/elsewhere.git");
  set("remote.origin.receivepack", marking(marker, "receive-pack"));
  set("remote.origin.uploadpack", marking(marker, "upload-pack"));
  set("url.http://127.0.0.1:9/.insteadOf", "http://127.0.0.1");
  for (const hook of [
    "pre-commit",
    "commit-msg",
    "post-commit",
    "pre-push",
    "reference-transaction",
    "post-checkout",
    "post-index-change",
  ]) {
    writeFileSync(join(repo, ".git", "hooks", hook), `#!/bin/sh\necho hook-${hook} >> '${marker}'\n`, { mode: 0o755 });
  }
}

function markers(marker: string): string[] {
  return existsSync(marker) ? [...new Set(readFileSync(marker, "utf8").split("\n").filter(Boolean))].sort() : [];
}

describe("the bridge's git in a checkout the agent controls", () => {
  it("commits, diffs, fetches and pushes over HTTP with the short-lived credential, running nothing the repository names", async () => {
    const root = tempDir();
    const served = join(root, "served");
    mkdirSync(served);
    plain(served, "init", "--quiet", "--bare", "--initial-branch=main", "project.git");
    const seed = join(root, "seed");
    plain(root, "clone", "--quiet", join(served, "project.git"), seed);
    writeFileSync(join(seed, "README.md"), "# project\n");
    plain(seed, "add", "README.md");
    plain(seed, "commit", "--quiet", "-m", "seed");
    plain(seed, "push", "--quiet", "origin", "HEAD:main");

    const server = await GitHttpServer.start({ root: served, password: PASSWORD });
    cleanup.push(() => server.close());
    const url = server.url("project.git");
    const asked: GitCredentialRequest[] = [];
    const workdir = join(root, "workspace", "repo");
    const git = new Git(workdir, bot, silentLogger);
    const remote = new SessionRemote({
      url,
      git,
      dir: tempDir(),
      credentials: async (request) => {
        asked.push(request);
        return { username: "lookout", password: PASSWORD, expiresAt: Date.now() + 600_000 };
      },
      logger: silentLogger,
    });
    await git.prepare({ remote, baseBranch: "main", branch: "lookout/ses_1" });
    expect(await git.currentBranch()).toBe("lookout/ses_1");
    expect(asked).toEqual([{ protocol: "http", host: new URL(url).host, path: "project.git" }]);

    // The agent's turn: it plants everything, then changes files the planted drivers would handle.
    const marker = join(root, "marker");
    plantEverything(workdir, marker);
    writeFileSync(join(workdir, "notes.txt"), "written by the agent\n");
    writeFileSync(join(workdir, "data.p"), "processed?\n");
    writeFileSync(join(workdir, "extra.inc"), "included?\n");
    writeFileSync(join(workdir, "README.md"), "# project\n\nchanged\n");

    const events: BridgeEventPayload[] = [];
    const pusher = new PushCoordinator({ git, remote, remoteName: "origin", branch: "lookout/ses_1", emit: (e) => events.push(e) });
    const before = await git.head();
    const sha = await git.commitAll("Agent work", alice);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    const { files, diff } = await git.changesBetween(before, sha ?? "");
    expect(files.map((f) => f.path)).toEqual([".gitattributes", "README.md", "data.p", "extra.inc", "notes.txt"]);
    expect(diff).toContain("+written by the agent");
    await pusher.afterCommit("pmt_1");
    // A restored snapshot with the same hostile checkout: its deferred sync fetches again.
    const sync = await git.prepare({ remote, baseBranch: "main", branch: "lookout/ses_1" });
    await sync?.();

    expect(events).toEqual([{ type: "git.push", promptId: "pmt_1", branch: "lookout/ses_1", headSha: sha, status: "pushed" }]);
    expect(plain(join(served, "project.git"), "rev-parse", "refs/heads/lookout/ses_1")).toBe(sha);
    // The committed content is the agent's bytes, not what the planted filter would have made.
    expect(plain(workdir, "show", `${sha}:notes.txt`)).toBe("written by the agent");
    expect(markers(marker)).toEqual([]);
    // Every request reached the real remote with the credential (none went through the proxy).
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.filter((r) => r.password !== PASSWORD)).toEqual([]);
    expect(server.requests.some((r) => r.path.endsWith("/git-receive-pack") && r.status === 200)).toBe(true);
    expect(asked).toHaveLength(3);

    // The plants are live: the agent's own git runs them.
    for (const file of ["notes.txt", "data.p", "extra.inc"]) writeFileSync(join(workdir, file), "again\n");
    plain(workdir, "add", "--all");
    plain(workdir, "-c", "commit.gpgSign=false", "commit", "--quiet", "-m", "agent commit");
    plain(workdir, "diff", "HEAD~1", "HEAD");
    expect(markers(marker)).toEqual(
      expect.arrayContaining([
        "clean",
        "external",
        "fsmonitor",
        "hook-commit-msg",
        "hook-post-commit",
        "hook-pre-commit",
        "hook-reference-transaction",
        "included-clean",
        "process",
      ]),
    );
  }, 60_000);

  it("turns off every driver the repository's configuration names, included files too", () => {
    const list = [
      "core.bare\nfalse",
      "filter.lfs.clean\ngit-lfs clean -- %f",
      "filter.a.b.smudge\nx",
      "filter.x.process\ny",
      "filter.x.required\ntrue",
      "diff.t.textconv\nz",
      "diff.t.command\nw",
      "merge.m.driver\nv",
      "remote.origin.uploadpack\nu",
      "remote.http://h/r.git.receivepack\nr",
      "user.name\nA",
      "",
    ].join("\0");
    expect(repositoryOverrides(list)).toEqual([
      ["filter.lfs.clean", ""],
      ["filter.a.b.smudge", ""],
      ["filter.x.process", ""],
      ["filter.x.required", "false"],
      ["diff.t.textconv", ""],
      ["diff.t.command", ""],
      ["merge.m.driver", ""],
      ["remote.origin.uploadpack", ""],
      ["remote.http://h/r.git.receivepack", ""],
    ]);
  });
});
