import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BridgeEventPayload } from "@lookout/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { formatCredentialOutput, gitCredentialEnv, parseCredentialInput, runCredentialHelper } from "./credential-helper";
import { approvalIdFor, decidePush, type GitRunner, PushCoordinator } from "./push";
import { pullRequestToolSource, startToolServer } from "./pull-request-tool";

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("the git credential helper", () => {
  it("reads git's request and asks the control plane with the sandbox token", async () => {
    const seen: { url: string; headers: Headers; body: unknown }[] = [];
    const fetcher: typeof fetch = async (input, init) => {
      seen.push({ url: String(input), headers: new Headers(init?.headers), body: JSON.parse(String(init?.body)) });
      return Response.json({ username: "lookout", password: "lgc1.claims.sig", expiresAt: 1_900_000_000_000 });
    };
    const output = await runCredentialHelper(
      "get",
      "protocol=http\nhost=127.0.0.1:8788\npath=git/ses_1.git\n\n",
      { controlPlaneUrl: "http://cp/", sessionId: "ses_1", sandboxId: "sbx_1", sandboxToken: "tok" },
      fetcher,
    );
    expect(output).toBe("username=lookout\npassword=lgc1.claims.sig\npassword_expiry_utc=1900000000\n");
    expect(seen[0]?.url).toBe("http://cp/api/sessions/ses_1/git-credentials");
    expect(seen[0]?.headers.get("authorization")).toBe("Bearer tok");
    expect(seen[0]?.headers.get("x-lookout-sandbox-id")).toBe("sbx_1");
    expect(seen[0]?.body).toEqual({ protocol: "http", host: "127.0.0.1:8788", path: "git/ses_1.git" });
    expect(
      await runCredentialHelper("store", "", { controlPlaneUrl: "http://cp", sessionId: "s", sandboxId: "b", sandboxToken: "t" }, fetcher),
    ).toBe("");
  });

  it("fails (so git gets no password) when the control plane refuses, and never lets a value inject fields", async () => {
    const refused: typeof fetch = async () => new Response("no", { status: 401 });
    await expect(
      runCredentialHelper(
        "get",
        "protocol=https\nhost=github.com\n",
        { controlPlaneUrl: "http://cp", sessionId: "s", sandboxId: "b", sandboxToken: "t" },
        refused,
      ),
    ).rejects.toThrow(/401/);
    expect(() => formatCredentialOutput({ username: "x", password: "a\nusername=evil", expiresAt: 1 })).toThrow();
    expect(parseCredentialInput("protocol=https\nhost=github.com\n\nignored=1")).toEqual({ protocol: "https", host: "github.com" });
  });

  it("is configured for the session's remote only, through the environment", () => {
    const env = gitCredentialEnv("http://gw/git/ses_1.git", "!'/node' '/opt/lookout/bridge.mjs' git-credential");
    expect(env).toMatchObject({
      GIT_CONFIG_COUNT: "3",
      GIT_CONFIG_KEY_0: "credential.helper",
      GIT_CONFIG_VALUE_0: "",
      GIT_CONFIG_KEY_1: "credential.http://gw/git/ses_1.git.helper",
      GIT_CONFIG_KEY_2: "credential.http://gw/git/ses_1.git.useHttpPath",
    });
  });
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
    const events: BridgeEventPayload[] = [];
    const pusher = new PushCoordinator({ git, remote: "origin", branch: "lookout/ses_1", emit: (event) => events.push(event), env: {} });

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

    await pusher.onDecision({ type: "command.push.decided", approvalId: approvalIdFor(workflow), headSha: workflow, decision: "approve" });
    expect(events.at(-1)).toMatchObject({ type: "git.push", status: "pushed", headSha: workflow });
    expect((await run("git", ["rev-parse", "refs/heads/lookout/ses_1"], { cwd: remote, env })).stdout.trim()).toBe(workflow);
  });

  it("refuse a branch name with shell metacharacters before running git", () => {
    const git: GitRunner = { run: async () => ({ stdout: "", stderr: "", code: 0 }) };
    for (const branch of ["lookout/$(id)", "a;b", "-x", "a b"]) {
      expect(() => new PushCoordinator({ git, remote: "origin", branch, emit: () => undefined, env: {} })).toThrow(/Refusing branch name/);
    }
  });
});

describe("the create-pull-request tool", () => {
  it("is a dependency-free module with the description, JSON-schema args and an execute function", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lookout-tool-"));
    dirs.push(dir);
    writeFileSync(join(dir, "create-pull-request.mjs"), pullRequestToolSource());
    const tool = (await import(join(dir, "create-pull-request.mjs"))) as {
      default: { description: string; args: Record<string, unknown>; execute: unknown };
    };
    expect(tool.default.description).toMatch(/pull request/);
    expect(Object.keys(tool.default.args)).toEqual(["title", "body", "draft"]);
    expect(typeof tool.default.execute).toBe("function");
  });

  it("reaches the control plane only through the bridge's loopback endpoint with its secret", async () => {
    const forwarded: { url: string; headers: Headers; body: string }[] = [];
    const server = await startToolServer({
      token: "per-start-secret",
      controlPlaneUrl: "http://cp",
      sessionId: "ses_1",
      sandboxId: "sbx_1",
      sandboxToken: "sandbox-token",
      fetcher: async (input, init) => {
        forwarded.push({ url: String(input), headers: new Headers(init?.headers), body: String(init?.body) });
        return Response.json(
          {
            created: true,
            pullRequest: {
              id: "pr_1",
              sessionId: "ses_1",
              repositoryId: "r1",
              provider: "local",
              number: null,
              url: "http://cp/sessions/ses_1",
              title: "T",
              body: "B",
              baseBranch: "main",
              headBranch: "lookout/ses_1",
              headSha: null,
              state: "open",
              draft: true,
              openedBy: { userId: "u", name: "Ada" },
              openedAs: "local",
              review: null,
              mergeSha: null,
              createdAt: 1,
              updatedAt: 1,
              mergedAt: null,
              closedAt: null,
            },
          },
          { status: 201 },
        );
      },
    });
    try {
      const refused = await fetch(`${server.url}/pull-request`, { method: "POST", headers: { authorization: "Bearer wrong" }, body: "{}" });
      expect(refused.status).toBe(401);
      expect(forwarded).toHaveLength(0);
      const opened = await fetch(`${server.url}/pull-request`, {
        method: "POST",
        headers: { authorization: "Bearer per-start-secret" },
        body: JSON.stringify({ title: "T" }),
      });
      expect(opened.status).toBe(201);
      expect(forwarded[0]?.url).toBe("http://cp/api/sessions/ses_1/pull-request");
      expect(forwarded[0]?.headers.get("authorization")).toBe("Bearer sandbox-token");
      expect(JSON.parse(forwarded[0]?.body ?? "")).toEqual({ title: "T" });
    } finally {
      await server.close();
    }
  });
});
