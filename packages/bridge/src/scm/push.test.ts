import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BridgeEventPayload } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { approvalIdFor, type BranchRemote, decidePush, type GitRunner, PushCoordinator } from "./push";

const run = promisify(execFile);

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("pushes that change workflows", () => {
  it("are decided per commit: only protected paths ask, and only the approved commit goes", () => {
    expect(decidePush(["src/a.ts"], "a".repeat(40), null)).toEqual({ action: "push" });
    expect(decidePush([".github/workflows/ci.yml", "src/a.ts"], "a".repeat(40), null)).toEqual({
      action: "ask",
      files: [".github/workflows/ci.yml"],
    });
    expect(decidePush([".github/workflows/ci.yml"], "a".repeat(40), "a".repeat(40))).toEqual({ action: "push" });
    expect(decidePush([".github/workflows/ci.yml"], "b".repeat(40), "a".repeat(40))).toMatchObject({ action: "ask" });
    expect(decidePush([".github/dependabot.yml"], "a".repeat(40), null)).toEqual({ action: "push" });
  });

  it("are held back with real git until approved, then pushed; other changes push at once", async () => {
    const root = mkdtempSync(join(tmpdir(), "lookout-push-"));
    dirs.push(root);
    const remote = join(root, "remote.git");
    const work = join(root, "work");
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
    const sh = (cwd: string, ...args: string[]) => run("git", args, { cwd, env });
    await sh(root, "init", "-q", "--bare", remote);
    await sh(root, "init", "-q", "-b", "main", work);
    const commit = async (file: string, message: string) => {
      mkdirSync(join(work, file, ".."), { recursive: true });
      writeFileSync(join(work, file), `${message}\n`);
      await sh(work, "add", "--all");
      await sh(work, "-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "-q", "-m", message);
      return (await sh(work, "rev-parse", "HEAD")).stdout.trim();
    };
    await commit("README.md", "init");
    await sh(work, "remote", "add", "origin", remote);
    await sh(work, "push", "-q", "origin", "main");
    await sh(work, "fetch", "-q", "origin");
    await sh(work, "switch", "-q", "-c", "lookout/ses_1");
    const git: GitRunner = {
      run: async (args, options) => {
        try {
          const result = await run("git", [...args], { cwd: work, env: { ...env, ...options?.env } });
          return { ...result, code: 0 };
        } catch (error) {
          const failure = error as { code?: number; stdout?: string; stderr?: string };
          if (options?.okCodes?.includes(failure.code ?? -1))
            return { stdout: failure.stdout ?? "", stderr: failure.stderr ?? "", code: failure.code ?? -1 };
          throw error;
        }
      },
    };
    const remoteRepo: BranchRemote = {
      push: (headSha, branch) => git.run(["push", "--quiet", "origin", `${headSha}:refs/heads/${branch}`], { okCodes: [0, 1, 128] }),
    };
    const events: BridgeEventPayload[] = [];
    const pusher = new PushCoordinator({
      git,
      remote: remoteRepo,
      remoteName: "origin",
      branch: "lookout/ses_1",
      emit: (event) => events.push(event),
    });

    const plain = await commit("src/a.txt", "plain change");
    await pusher.afterCommit("pmt_1");
    expect(events.at(-1)).toMatchObject({ type: "git.push", status: "pushed", headSha: plain, promptId: "pmt_1" });
    expect((await run("git", ["rev-parse", "refs/heads/lookout/ses_1"], { cwd: remote, env })).stdout.trim()).toBe(plain);

    const workflow = await commit(".github/workflows/ci.yml", "add ci");
    await pusher.afterCommit("pmt_2");
    expect(events.slice(-2)).toMatchObject([
      { type: "push.approval.requested", approvalId: approvalIdFor(workflow), files: [".github/workflows/ci.yml"], headSha: workflow },
      { type: "git.push", status: "awaiting_approval", headSha: workflow },
    ]);
    expect((await run("git", ["rev-parse", "refs/heads/lookout/ses_1"], { cwd: remote, env })).stdout.trim()).toBe(plain);

    // Asking again for the same commit (a prompt that changed nothing) adds nothing.
    await pusher.afterCommit("pmt_3");
    expect(events).toHaveLength(3);

    await pusher.onDecision({ type: "command.push.decided", approvalId: approvalIdFor(workflow), headSha: workflow, decision: "approve" });
    expect(events.at(-1)).toMatchObject({ type: "git.push", status: "pushed", headSha: workflow });
    expect((await run("git", ["rev-parse", "refs/heads/lookout/ses_1"], { cwd: remote, env })).stdout.trim()).toBe(workflow);
    // Nothing new to push: nothing happens.
    await pusher.afterCommit("pmt_4");
    expect(events).toHaveLength(4);

    const refused = await commit(".github/workflows/deploy.yml", "add deploy");
    await pusher.afterCommit("pmt_5");
    await pusher.onDecision({ type: "command.push.decided", approvalId: approvalIdFor(refused), headSha: refused, decision: "reject" });
    expect(events.at(-1)).toMatchObject({ type: "git.push", status: "failed", headSha: refused, error: expect.stringMatching(/rejected/) });
    await pusher.afterCommit("pmt_6");
    expect(events).toHaveLength(7);
    expect((await run("git", ["rev-parse", "refs/heads/lookout/ses_1"], { cwd: remote, env })).stdout.trim()).toBe(workflow);
  });

  it("refuse a branch name with shell metacharacters before running git", () => {
    const git: GitRunner = { run: async () => ({ stdout: "", stderr: "", code: 0 }) };
    const remote: BranchRemote = { push: async () => ({ stderr: "", code: 0 }) };
    for (const branch of ["lookout/$(id)", "a;b", "-x", "a b"]) {
      expect(() => new PushCoordinator({ git, remote, remoteName: "origin", branch, emit: () => undefined })).toThrow(
        /Refusing branch name/,
      );
    }
  });
});
