import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BridgeEventPayload } from "@lookout/protocol";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { authorizationConfig, controlPlaneCredentials, credentialRequestFor } from "./git-credentials";
import { approvalIdFor, type BranchRemote, decidePush, type GitRunner, PushCoordinator } from "./push";
import { remoteScheme } from "./remote";
import {
  controlPlaneOpener,
  MCP_SERVER_NAME,
  PULL_REQUEST_TOOL_ID,
  pushingFirst,
  startToolServer,
  type ToolServer,
} from "./pull-request-tool";

const run = promisify(execFile);

function requestUrl(input: string | URL | Request): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}

function bodyText(init: RequestInit | undefined): string {
  return typeof init?.body === "string" ? init.body : "";
}
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("git credentials", () => {
  it("asks the control plane for the remote git is about to use, with the sandbox token", async () => {
    const seen: { url: string; headers: Headers; body: unknown }[] = [];
    const fetcher: typeof fetch = async (input, init) => {
      seen.push({ url: requestUrl(input), headers: new Headers(init?.headers), body: JSON.parse(bodyText(init)) });
      return Response.json({ username: "lookout", password: "lgc1.claims.sig", expiresAt: 1_900_000_000_000 });
    };
    const credentials = controlPlaneCredentials({
      controlPlaneUrl: "http://cp/",
      sessionId: "ses_1",
      sandboxId: "sbx_1",
      sandboxToken: "tok",
      fetcher,
    });
    const request = credentialRequestFor("http://127.0.0.1:8788/git/ses_1.git");
    expect(request).toEqual({ protocol: "http", host: "127.0.0.1:8788", path: "git/ses_1.git" });
    expect(await credentials(request ?? { protocol: "http", host: "x" })).toEqual({
      username: "lookout",
      password: "lgc1.claims.sig",
      expiresAt: 1_900_000_000_000,
    });
    expect(seen[0]?.url).toBe("http://cp/api/sessions/ses_1/git-credentials");
    expect(seen[0]?.headers.get("authorization")).toBe("Bearer tok");
    expect(seen[0]?.headers.get("x-lookout-sandbox-id")).toBe("sbx_1");
    expect(seen[0]?.body).toEqual({ protocol: "http", host: "127.0.0.1:8788", path: "git/ses_1.git" });
    expect(credentialRequestFor("https://github.com/acme/app.git")).toEqual({
      protocol: "https",
      host: "github.com",
      path: "acme/app.git",
    });
    // Local paths (tests, development) need no credential from Lookout.
    expect(credentialRequestFor("/srv/repos/app.git")).toBeUndefined();
    expect(credentialRequestFor("file:///srv/repos/app.git")).toBeUndefined();
  });

  it("fails when the control plane refuses, and never lets a value start another header", async () => {
    const refused = controlPlaneCredentials({
      controlPlaneUrl: "http://cp",
      sessionId: "s",
      sandboxId: "b",
      sandboxToken: "t",
      fetcher: async () => new Response("no", { status: 401 }),
    });
    await expect(refused({ protocol: "https", host: "github.com" })).rejects.toThrow(/401/);
    expect(() => authorizationConfig("http://gw/git/s.git", { username: "x", password: "a\r\nX-Evil: 1", expiresAt: 1 })).toThrow(
      /control character/,
    );
  });

  it("becomes basic auth for the session's remote only, as config for the environment", () => {
    expect(authorizationConfig("http://gw/git/ses_1.git", { username: "lookout", password: "p", expiresAt: 1 })).toEqual([
      ["http.extraHeader", ""],
      ["http.http://gw/git/ses_1.git.extraHeader", `Authorization: Basic ${Buffer.from("lookout:p").toString("base64")}`],
    ]);
  });

  it("allows git the remote's protocol only", () => {
    expect(remoteScheme("https://github.com/a/b.git")).toBe("https");
    expect(remoteScheme("http://127.0.0.1:4480/git/s.git")).toBe("http");
    expect(remoteScheme("/srv/a.git")).toBe("file");
    expect(remoteScheme("git@github.com:a/b.git")).toBe("ssh");
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

const PULL_REQUEST = {
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
};

/** An MCP client as OpenCode runs one: the SDK's `Client` over streamable HTTP, with the bearer from the config. */
async function connectClient(server: ToolServer, authorization = server.opencodeConfig.headers?.authorization ?? ""): Promise<Client> {
  const client = new Client({ name: "opencode", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization } } }));
  return client;
}

describe("the create_pull_request tool over MCP", () => {
  const servers: ToolServer[] = [];
  const clients: Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    for (const server of servers.splice(0)) await server.close();
  });

  async function serve(opener: Parameters<typeof startToolServer>[0]["opener"]): Promise<ToolServer> {
    const server = await startToolServer({ token: "per-start-secret", opener });
    servers.push(server);
    return server;
  }

  it("answers the MCP handshake, lists the one tool and calls it with validated fields", async () => {
    const opened: unknown[] = [];
    const server = await serve(async (input) => {
      opened.push(input);
      return { text: "Opened.", isError: false };
    });
    const client = await connectClient(server);
    clients.push(client);
    expect(client.getServerVersion()).toMatchObject({ name: MCP_SERVER_NAME });
    expect(client.getServerCapabilities()?.tools).toBeDefined();

    const { tools } = await client.listTools();
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({
      name: "create_pull_request",
      title: "Create pull request",
      inputSchema: {
        type: "object",
        properties: { title: { type: "string" }, body: { type: "string" }, draft: { type: "boolean" } },
        additionalProperties: false,
      },
    });
    expect(tools[0]?.inputSchema.required ?? []).toEqual([]);
    expect(PULL_REQUEST_TOOL_ID).toBe("lookout_create_pull_request");

    const called = await client.callTool({ name: "create_pull_request", arguments: { title: "Fix it", body: " " } });
    expect(called).toEqual({ content: [{ type: "text", text: "Opened." }], isError: false });
    // A blank optional field means "use the session's default".
    expect(opened).toEqual([{ title: "Fix it" }]);

    // Wrong types, fields the control plane refuses and unknown fields all fail without opening anything.
    for (const args of [{ draft: "yes" }, { title: "x".repeat(300) }, { reviewers: ["eve"] }]) {
      const invalid = await client.callTool({ name: "create_pull_request", arguments: args });
      expect(invalid).toMatchObject({ isError: true, content: [{ type: "text", text: expect.stringMatching(/invalid/i) }] });
    }
    expect(opened).toHaveLength(1);

    const unknownTool = await client.callTool({ name: "rm_rf", arguments: {} });
    expect(unknownTool).toMatchObject({ isError: true, content: [{ type: "text", text: expect.stringMatching(/rm_rf not found/) }] });
    expect(opened).toHaveLength(1);
    // A method the server does not offer is a protocol error, not a tool result.
    const unsupported = client.listResources();
    await expect(unsupported).rejects.toBeInstanceOf(McpError);
    await expect(unsupported).rejects.toMatchObject({ code: ErrorCode.MethodNotFound });
  });

  it("tells the model when the control plane refuses, as a tool error", async () => {
    const server = await serve(async () => ({ text: "Opening the pull request failed (409): Push the branch first.", isError: true }));
    const client = await connectClient(server);
    clients.push(client);
    expect(await client.callTool({ name: "create_pull_request", arguments: {} })).toEqual({
      content: [{ type: "text", text: "Opening the pull request failed (409): Push the branch first." }],
      isError: true,
    });
  });

  it("opens the pull request as the sandbox and tells the model what happened", async () => {
    const forwarded: { url: string; headers: Headers; body: string }[] = [];
    const target = { controlPlaneUrl: "http://cp/", sessionId: "ses_1", sandboxId: "sbx_1", sandboxToken: "sandbox-token" };
    const opener = controlPlaneOpener({
      ...target,
      fetcher: async (input, init) => {
        forwarded.push({ url: requestUrl(input), headers: new Headers(init?.headers), body: bodyText(init) });
        return Response.json({ created: true, pullRequest: PULL_REQUEST }, { status: 201 });
      },
    });
    expect(await opener({ title: "T" })).toEqual({
      text: 'Opened pull request "T" (lookout/ses_1 → main, open, draft). http://cp/sessions/ses_1',
      isError: false,
    });
    expect(forwarded[0]?.url).toBe("http://cp/api/sessions/ses_1/pull-request");
    expect(forwarded[0]?.headers.get("authorization")).toBe("Bearer sandbox-token");
    expect(forwarded[0]?.headers.get("x-lookout-sandbox-id")).toBe("sbx_1");
    expect(JSON.parse(forwarded[0]?.body ?? "")).toEqual({ title: "T" });

    const refused = controlPlaneOpener({
      ...target,
      fetcher: async () => Response.json({ error: { code: "BRANCH_NOT_PUSHED", message: "Push the branch first." } }, { status: 409 }),
    });
    expect(await refused({})).toEqual({ text: "Opening the pull request failed (409): Push the branch first.", isError: true });
  });

  it("serves MCP on loopback only to callers with the per-start token", async () => {
    const opened: unknown[] = [];
    const server = await serve(async (input) => {
      opened.push(input);
      return { text: "Opened.", isError: false };
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(server.opencodeConfig).toEqual({
      type: "remote",
      url: server.url,
      enabled: true,
      oauth: false,
      headers: { authorization: "Bearer per-start-secret" },
    });
    await expect(connectClient(server, "Bearer wrong")).rejects.toThrow(/unauthorized/);
    await expect(connectClient(server, "")).rejects.toThrow(/unauthorized/);

    const post = (authorization: string, body: string, path = "/mcp") =>
      fetch(new URL(path, server.url), {
        method: "POST",
        headers: { authorization, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body,
      });
    const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "create_pull_request", arguments: {} } });
    expect((await post("Bearer wrong", call)).status).toBe(401);
    expect((await post("Bearer per-start-secret", call, "/other")).status).toBe(404);
    expect(opened).toHaveLength(0);
    expect((await fetch(server.url, { headers: { authorization: "Bearer per-start-secret" } })).status).toBe(405);
    const tooLarge = JSON.stringify({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "create_pull_request", arguments: { body: "x".repeat(300 * 1024) } },
    });
    expect((await post("Bearer per-start-secret", tooLarge)).status).toBe(413);
    expect(opened).toHaveLength(0);
    // The right token with the same request opens the pull request.
    expect(await (await post("Bearer per-start-secret", call)).json()).toMatchObject({ id: 1, result: { isError: false } });
    expect(opened).toEqual([{}]);
  });
});

describe("opening a pull request pushes the agent's commits first", () => {
  it("pushes before the control plane is asked, so the pull request's branch exists on the remote", async () => {
    const order: string[] = [];
    const opener = pushingFirst({ afterCommit: async () => void order.push("push") }, async (input) => {
      order.push(`open ${input.title ?? ""}`);
      return { text: "Opened", isError: false };
    });
    expect(await opener({ title: "Rename" })).toEqual({ text: "Opened", isError: false });
    expect(order).toEqual(["push", "open Rename"]);
  });

  it("opens nothing when the push fails, and says why", async () => {
    const opened: unknown[] = [];
    const opener = pushingFirst(
      {
        afterCommit: () => Promise.reject(new Error("remote refused")),
      },
      async (input) => {
        opened.push(input);
        return { text: "Opened", isError: false };
      },
    );
    const result = await opener({});
    expect(result.isError).toBe(true);
    expect(result.text).toContain("remote refused");
    expect(opened).toEqual([]);
  });

  it("leaves the opener as it is for a session that may not push", () => {
    const opener = async () => ({ text: "refused by the control plane", isError: true });
    expect(pushingFirst(undefined, opener)).toBe(opener);
  });
});
