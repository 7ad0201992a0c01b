import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GitCompareResponse, GitMergeResponse, mintGitCredential, signRequest } from "@lookout/protocol";
import { LocalProvider, silentLogger } from "@lookout/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewaySettings } from "../src/config";
import { startGateway, type RunningGateway } from "../src/server";

/**
 * Local repositories over git's smart HTTP protocol, end to end with real git on both sides: a
 * "sandbox" clone made through the gateway with a credential minted the way the control plane
 * mints them, pushes checked by the gateway's pre-receive hook, and the review and merge
 * operations the control plane calls for local pull requests.
 */
const SERVICE_SECRET = "control-plane-secret-for-git-tests-0123456789";
const GIT_SECRET = "git-credential-secret-for-tests-0123456789";
const SESSION = "ses_alpha";
const BRANCH = `lookout/${SESSION}`;
const run = promisify(execFile);

let dataDir: string;
let hostRepo: string;
let provider: LocalProvider;
let gateway: RunningGateway;

/** Runs git without any user configuration; the password comes from the environment via a helper. */
async function git(cwd: string, args: string[], password?: string): Promise<{ stdout: string; stderr: string }> {
  const helper = '!f() { test "$1" = get && echo username=lookout && echo "password=$LOOKOUT_TEST_PASSWORD"; }; f';
  return run("git", args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dataDir,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_TERMINAL_PROMPT: "0",
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "credential.helper",
      GIT_CONFIG_VALUE_0: password === undefined ? "" : helper,
      LOOKOUT_TEST_PASSWORD: password ?? "",
    },
  });
}

async function gitFails(cwd: string, args: string[], password?: string): Promise<string> {
  try {
    await git(cwd, args, password);
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  throw new Error(`git ${args.join(" ")} unexpectedly succeeded`);
}

async function credential(
  overrides: { sid?: string; ref?: string; exp?: number; workflowSha?: string; secret?: string } = {},
): Promise<string> {
  return mintGitCredential(overrides.secret ?? GIT_SECRET, {
    sid: overrides.sid ?? SESSION,
    repo: hostRepo,
    ref: overrides.ref ?? `refs/heads/${BRANCH}`,
    exp: overrides.exp ?? Date.now() + 60_000,
    ...(overrides.workflowSha ? { workflowSha: overrides.workflowSha } : {}),
  });
}

function remoteUrl(session = SESSION): string {
  return `${gateway.url}/git/${session}.git`;
}

async function signed(path: string, body: unknown): Promise<Response> {
  const payload = JSON.stringify(body);
  const headers = await signRequest({ service: "control-plane", method: "POST", pathAndQuery: path, body: payload }, SERVICE_SECRET);
  return fetch(`${gateway.url}${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: payload });
}

async function commitAs(cwd: string, file: string, content: string, author: string, message: string): Promise<string> {
  mkdirSync(join(cwd, file, ".."), { recursive: true });
  writeFileSync(join(cwd, file), content);
  await git(cwd, ["add", "--all"]);
  const [name, email] = author.split("|") as [string, string];
  await git(cwd, ["-c", `user.name=${name}`, "-c", `user.email=${email}`, "-c", "committer.name=Lookout", "commit", "-q", "-m", message]);
  return (await git(cwd, ["rev-parse", "HEAD"])).stdout.trim();
}

function settings(overrides: Partial<GatewaySettings> = {}): GatewaySettings {
  return {
    // Lookout itself lives elsewhere: repositories inside its installation are refused.
    repoRoot: join(dataDir, "lookout-install"),
    host: "127.0.0.1",
    port: 0,
    dataDir,
    serviceSecret: SERVICE_SECRET,
    gitCredentialSecret: GIT_SECRET,
    publicUrl: undefined,
    provider: { kind: "local", bridgeBundle: "/nonexistent", opencodeBin: undefined, bwrapPath: "/usr/bin/bwrap", unsafeNoSandbox: true },
    models: { scriptedUrl: undefined, scriptedToken: undefined, anthropic: undefined, openai: undefined, openaiCompatible: undefined },
    logLevel: "error",
    // The test's repositories live in the system's temporary directory.
    localRepoRoots: realpathSync(tmpdir()),
    ...overrides,
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lookout-git-http-"));
  hostRepo = join(dataDir, "host-repo");
  mkdirSync(hostRepo);
  await git(hostRepo, ["init", "-q", "-b", "main"]);
  await commitAs(hostRepo, "README.md", "# Host\n", "Owner|owner@example.com", "Initial commit");
  provider = await LocalProvider.start({
    dataDir,
    bridgeBundle: "/nonexistent",
    opencodeBin: undefined,
    unsafeNoSandbox: true,
    logger: silentLogger,
  });
  gateway = await startGateway({ ...settings(), sandboxProvider: provider, logger: silentLogger });
});

afterAll(async () => {
  await gateway?.close();
  await provider?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("git smart HTTP for local repositories", () => {
  let sandbox: string;
  let pushedSha: string;

  it("clones through the endpoint with a minted credential and pushes the session branch as the prompting user", async () => {
    sandbox = join(dataDir, "sandbox-clone");
    await git(dataDir, ["clone", "-q", remoteUrl(), sandbox], await credential());
    expect(readFileSync(join(sandbox, "README.md"), "utf8")).toBe("# Host\n");
    await git(sandbox, ["switch", "-q", "-c", BRANCH]);
    pushedSha = await commitAs(sandbox, "src/feature.js", "export const feature = 1;\n", "Ada Lovelace|ada@example.com", "Add the feature");
    await git(sandbox, ["push", "-q", "origin", `HEAD:refs/heads/${BRANCH}`], await credential());

    const [author, committer, sha] = (await git(hostRepo, ["log", "-1", "--format=%an <%ae>|%cn|%H", BRANCH])).stdout.trim().split("|");
    expect(author).toBe("Ada Lovelace <ada@example.com>");
    expect(committer).toBe("Lookout");
    expect(sha).toBe(pushedSha);
  });

  it("reviews the pushed branch: its commits, authored by the prompting user, and its diff", async () => {
    const response = await signed("/v1/git/compare", { repositoryPath: hostRepo, base: "main", head: BRANCH });
    expect(response.status).toBe(200);
    const review = GitCompareResponse.parse(await response.json());
    expect(review.headSha).toBe(pushedSha);
    expect(review.commits).toHaveLength(1);
    expect(review.commits[0]).toMatchObject({
      sha: pushedSha,
      subject: "Add the feature",
      author: { name: "Ada Lovelace", email: "ada@example.com" },
    });
    expect(review.files).toEqual([{ path: "src/feature.js", change: "added", additions: 1, deletions: 0 }]);
    expect(review.diff).toContain("+export const feature = 1;");
    expect(review.diffTruncated).toBe(false);
  });

  it("refuses a push to any other ref and leaves the repository unchanged", async () => {
    const mainBefore = (await git(hostRepo, ["rev-parse", "main"])).stdout.trim();
    const stderr = await gitFails(sandbox, ["push", "origin", "HEAD:refs/heads/main"], await credential());
    expect(stderr).toContain(`this session may push only to refs/heads/${BRANCH}`);
    expect((await git(hostRepo, ["rev-parse", "main"])).stdout.trim()).toBe(mainBefore);
    const tagged = await gitFails(sandbox, ["push", "origin", "HEAD:refs/tags/v1"], await credential());
    expect(tagged).toContain("pre-receive hook declined");
    expect((await git(hostRepo, ["tag", "--list"])).stdout.trim()).toBe("");
  });

  it("refuses deleting the session branch", async () => {
    const stderr = await gitFails(sandbox, ["push", "origin", `:refs/heads/${BRANCH}`], await credential());
    expect(stderr).toMatch(/refusing to delete|deletion prohibited/);
    expect((await git(hostRepo, ["rev-parse", BRANCH])).stdout.trim()).toBe(pushedSha);
  });

  it("refuses stale, foreign, forged and missing credentials", async () => {
    const probe = join(dataDir, "probe");
    const expired = await gitFails(dataDir, ["clone", "-q", remoteUrl(), probe], await credential({ exp: Date.now() - 1 }));
    expect(expired).toMatch(/Authentication failed|401/);
    // A credential minted for another session does not open this session's repository URL…
    const foreign = await gitFails(dataDir, ["clone", "-q", remoteUrl(), probe], await credential({ sid: "ses_other" }));
    expect(foreign).toMatch(/Authentication failed|401/);
    // …and this session's credential does not open another session's URL.
    const crossed = await gitFails(dataDir, ["clone", "-q", remoteUrl("ses_other"), probe], await credential());
    expect(crossed).toMatch(/Authentication failed|401/);
    const forged = await gitFails(dataDir, ["clone", "-q", remoteUrl(), probe], await credential({ secret: "not-the-shared-secret" }));
    expect(forged).toMatch(/Authentication failed|401/);

    const anonymous = await fetch(`${remoteUrl()}/info/refs?service=git-upload-pack`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic /);
    const dumb = await fetch(`${remoteUrl()}/info/refs`, {
      headers: { authorization: `Basic ${Buffer.from(`lookout:${await credential()}`).toString("base64")}` },
    });
    expect(dumb.status).toBe(400);
  });

  it("holds back commits that change .github/workflows/ unless that commit was approved", async () => {
    const workflowSha = await commitAs(sandbox, ".github/workflows/ci.yml", "on: push\n", "Ada Lovelace|ada@example.com", "Add CI");
    const refused = await gitFails(sandbox, ["push", "origin", `HEAD:refs/heads/${BRANCH}`], await credential());
    expect(refused).toContain("changes to .github/workflows/ need a person's approval");
    expect((await git(hostRepo, ["rev-parse", BRANCH])).stdout.trim()).toBe(pushedSha);

    const otherApproved = await gitFails(
      sandbox,
      ["push", "origin", `HEAD:refs/heads/${BRANCH}`],
      await credential({ workflowSha: pushedSha }),
    );
    expect(otherApproved).toContain("need a person's approval");

    await git(sandbox, ["push", "-q", "origin", `HEAD:refs/heads/${BRANCH}`], await credential({ workflowSha }));
    expect((await git(hostRepo, ["rev-parse", BRANCH])).stdout.trim()).toBe(workflowSha);
    pushedSha = workflowSha;
  });

  it("merges the reviewed branch into the checked-out base with a merge commit, updating the work tree", async () => {
    const response = await signed("/v1/git/merge", {
      repositoryPath: hostRepo,
      base: "main",
      head: BRANCH,
      expectedHeadSha: pushedSha,
      message: "Merge lookout/ses_alpha: Add the feature",
      author: { name: "Grace Hopper", email: "grace@example.com" },
      committer: { name: "Lookout", email: "bot@lookout.local" },
    });
    expect(response.status).toBe(200);
    const merged = GitMergeResponse.parse(await response.json());
    const [parents, author, subject] = (await git(hostRepo, ["log", "-1", "--format=%P|%an|%s", "main"])).stdout.trim().split("|");
    expect(parents?.split(" ")).toEqual([merged.baseSha, pushedSha]);
    expect(author).toBe("Grace Hopper");
    expect(subject).toBe("Merge lookout/ses_alpha: Add the feature");
    // main is checked out in the host repository, so its files follow the merge.
    expect(readFileSync(join(hostRepo, "src", "feature.js"), "utf8")).toBe("export const feature = 1;\n");
    expect((await git(hostRepo, ["status", "--porcelain"])).stdout.trim()).toBe("");
  });

  it("reports a conflicting merge as MERGE_CONFLICT with the files, and a moved branch as CONFLICT", async () => {
    await commitAs(hostRepo, "README.md", "# Host, edited on main\n", "Owner|owner@example.com", "Edit README on main");
    const conflicting = await commitAs(
      sandbox,
      "README.md",
      "# Host, edited by the agent\n",
      "Ada Lovelace|ada@example.com",
      "Edit README",
    );
    await git(sandbox, ["push", "-q", "origin", `HEAD:refs/heads/${BRANCH}`], await credential());
    const body = {
      repositoryPath: hostRepo,
      base: "main",
      head: BRANCH,
      expectedHeadSha: conflicting,
      message: "Merge",
      author: { name: "Grace Hopper", email: "grace@example.com" },
      committer: { name: "Lookout", email: "bot@lookout.local" },
    };
    const response = await signed("/v1/git/merge", body);
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ error: { code: "MERGE_CONFLICT", details: { files: ["README.md"] } } });
    const moved = await signed("/v1/git/merge", { ...body, expectedHeadSha: pushedSha });
    expect(moved.status).toBe(409);
    expect(await moved.json()).toMatchObject({ error: { code: "CONFLICT" } });
  });

  it("refuses branch names with shell metacharacters before running git", async () => {
    for (const head of ["lookout/$(touch pwned)", "a;rm -rf /", "x`id`", "-delete", "a b"]) {
      const response = await signed("/v1/git/compare", { repositoryPath: hostRepo, base: "main", head });
      expect(response.status).toBe(422);
    }
  });
});

describe("without the shared secret", () => {
  it("refuses every git request", async () => {
    const closed = await startGateway({
      ...settings({ gitCredentialSecret: undefined, dataDir: join(dataDir, "closed") }),
      sandboxProvider: provider,
      logger: silentLogger,
    });
    try {
      const response = await fetch(`${closed.url}/git/${SESSION}.git/info/refs?service=git-upload-pack`, {
        headers: { authorization: `Basic ${Buffer.from(`lookout:${await credential()}`).toString("base64")}` },
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: "SERVICE_NOT_CONFIGURED" } });
    } finally {
      await closed.close();
    }
  });
});
