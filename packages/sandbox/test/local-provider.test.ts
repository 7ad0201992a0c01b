import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalProvider, type SandboxCreateConfig, SandboxProviderError } from "../src/index";
import { descendantsOf, isAlive, makeGitRepo, readIfExists, tempDir, waitFor } from "./helpers";

/**
 * Real bubblewrap sandboxes. The provider runs a probe script (from the sandbox's env) instead of
 * the bridge, and each test reads what the script left in its workspace from the host side.
 */
const PROBE_COMMAND = ["/bin/sh", "-c", 'eval "$PROBE_SCRIPT"'];

let dataDir: string;
let provider: LocalProvider;

function config(sandboxId: string, script: string, extra: Partial<SandboxCreateConfig> = {}): SandboxCreateConfig {
  return { sandboxId, env: { PROBE_SCRIPT: script }, source: { kind: "image" }, timeoutMs: 60_000, ...extra };
}

function workspaceFile(sandboxId: string, name: string): string {
  return join(provider.sandboxDir(sandboxId), "workspace", name);
}

beforeAll(async () => {
  dataDir = tempDir("local-provider");
  provider = await LocalProvider.start({
    dataDir,
    bridgeBundle: join(dataDir, "no-bridge.mjs"),
    opencodeBin: undefined,
    command: PROBE_COMMAND,
  });
});

afterAll(async () => {
  await provider.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("local provider (bubblewrap)", () => {
  it("runs a command that writes inside /workspace as the sandbox user, with Node from the host", async () => {
    await provider.create(
      config(
        "write",
        "id -u > /workspace/uid; node --version > /workspace/node; pwd > /workspace/done.tmp && mv /workspace/done.tmp /workspace/done",
      ),
    );
    const done = await waitFor(() => readIfExists(workspaceFile("write", "done")), "the probe to finish");
    expect(done.trim()).toBe("/workspace");
    expect(readFileSync(workspaceFile("write", "uid"), "utf8").trim()).toBe("1000");
    expect(readFileSync(workspaceFile("write", "node"), "utf8").trim()).toBe(process.version);
    expect(readFileSync(join(provider.sandboxDir("write"), "log"), "utf8")).toBe("");
    await provider.terminate("write");
  });

  it("cannot read the host's /root, the gateway's data dir, another sandbox or the gateway's env", async () => {
    const victimSecret = workspaceFile("victim", "secret.txt");
    await provider.create(config("victim", "sleep 600"));
    writeFileSync(victimSecret, "top secret");
    process.env.LOOKOUT_TEST_HOST_ONLY = "gateway-secret";
    const script = [
      "ls /root > /dev/null 2>&1; echo $? > /workspace/root",
      `cat ${victimSecret} > /dev/null 2>&1; echo $? > /workspace/victim`,
      `ls ${dataDir} > /dev/null 2>&1; echo $? > /workspace/datadir`,
      "ls /work > /dev/null 2>&1; echo $? > /workspace/work",
      "echo x > /usr/lookout-probe 2>/dev/null; echo $? > /workspace/usr",
      "env > /workspace/env",
      "touch /workspace/done",
    ].join("; ");
    try {
      await provider.create(config("attacker", script));
    } finally {
      delete process.env.LOOKOUT_TEST_HOST_ONLY;
    }
    await waitFor(() => existsSync(workspaceFile("attacker", "done")), "the probe to finish");
    for (const probe of ["root", "victim", "datadir", "work", "usr"]) {
      expect(readFileSync(workspaceFile("attacker", probe), "utf8").trim(), probe).not.toBe("0");
    }
    const env = readFileSync(workspaceFile("attacker", "env"), "utf8");
    expect(env).not.toContain("gateway-secret");
    expect(env).toContain("LOOKOUT_WORKDIR=/workspace/repo");
    expect(env).toContain("HOME=/home/sandbox");
    await provider.terminate("attacker");
    await provider.terminate("victim");
  });

  it("round-trips a file through snapshot and restore", async () => {
    await provider.create(config("origin", "echo kept > /workspace/note.tmp && mv /workspace/note.tmp /workspace/note; sleep 600"));
    await waitFor(() => readIfExists(workspaceFile("origin", "note")), "the note");
    const { snapshotId } = await provider.snapshot("origin");
    await provider.terminate("origin");

    await provider.restore(snapshotId, {
      sandboxId: "restored",
      env: { PROBE_SCRIPT: "cat /workspace/note > /workspace/seen.tmp && mv /workspace/seen.tmp /workspace/seen" },
      timeoutMs: 60_000,
    });
    const seen = await waitFor(() => readIfExists(workspaceFile("restored", "seen")), "the restored sandbox to read the note");
    expect(seen.trim()).toBe("kept");
    await provider.terminate("restored");
  });

  it("terminate kills the whole process tree and removes the sandbox directory", async () => {
    await provider.create(config("tree", "sleep 1000 & sleep 1000 & touch /workspace/started; wait"));
    await waitFor(() => existsSync(workspaceFile("tree", "started")), "the children to start");
    const pid = provider.pidOf("tree");
    expect(pid).toBeDefined();
    const tree = [pid ?? -1, ...descendantsOf(pid ?? -1)];
    // bubblewrap, its namespace init, the shell and two sleeps.
    expect(tree.length).toBeGreaterThanOrEqual(4);
    expect(await provider.status("tree")).toBe("running");

    await provider.terminate("tree");

    await waitFor(() => tree.every((member) => !isAlive(member)), "every process of the tree to be gone", 5_000);
    expect(existsSync(provider.sandboxDir("tree"))).toBe(false);
    await expect(provider.status("tree")).rejects.toMatchObject({ kind: "permanent", reason: "not_found" });
  });

  it("starts with an empty workspace: the repository is cloned over HTTP from inside the sandbox", async () => {
    // Git's dumb HTTP protocol from a static server on the host's loopback stands in for the
    // gateway's git endpoint: the sandbox reaches it over the shared network, never through a path.
    const repo = makeGitRepo(tempDir("http-repo"));
    const bare = join(tempDir("http-bare"), "repo.git");
    execFileSync("git", ["clone", "--quiet", "--bare", repo, bare]);
    execFileSync("git", ["update-server-info"], { cwd: bare });
    const server = createServer((request, response) => {
      const file = join(bare, normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)).replace(/^\/repo\.git/, ""));
      if (!file.startsWith(bare) || !existsSync(file)) return void response.writeHead(404).end();
      response.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await provider.create(
        config("cloned", "", {
          env: {
            PROBE_SCRIPT: [
              "test -e /workspace/repo; echo $? > /workspace/had-repo",
              `git clone --quiet http://127.0.0.1:${port}/repo.git /workspace/repo 2> /workspace/clone-errors`,
              "git -C /workspace/repo rev-parse --abbrev-ref HEAD > /workspace/branch.tmp && mv /workspace/branch.tmp /workspace/branch",
            ].join("; "),
          },
        }),
      );
      const branch = await waitFor(() => readIfExists(workspaceFile("cloned", "branch")), "the clone probe");
      expect(branch.trim()).toBe("main");
      expect(readFileSync(workspaceFile("cloned", "had-repo"), "utf8").trim()).toBe("1");
      expect(readFileSync(workspaceFile("cloned", "repo/README.md"), "utf8")).toBe("# seeded\n");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await provider.terminate("cloned");
      rmSync(repo, { recursive: true, force: true });
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it("reports a stopped sandbox after its process exits and refuses a duplicate id", async () => {
    await provider.create(config("short", "exit 0"));
    await waitFor(async () => (await provider.status("short")) === "stopped", "the sandbox to stop");
    await expect(provider.create(config("short", "true"))).rejects.toMatchObject({ kind: "permanent", reason: "conflict" });
    await provider.terminate("short");
  });

  it("classifies an unknown snapshot as a permanent not_found error", async () => {
    const error = await provider
      .restore("snap_doesnotexistdoesnotexist", { sandboxId: "ghost", env: {}, timeoutMs: 1_000 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SandboxProviderError);
    expect(error).toMatchObject({ kind: "permanent", reason: "not_found" });
    expect(existsSync(provider.sandboxDir("ghost"))).toBe(false);
  });
});

describe("local provider start-up", () => {
  it("runs without isolation only when explicitly told to, with host paths in the bridge's env", async () => {
    const dir = tempDir("unsafe");
    const unsafe = await LocalProvider.start({
      dataDir: dir,
      bridgeBundle: join(dir, "no-bridge.mjs"),
      opencodeBin: "/opt/host/opencode",
      unsafeNoSandbox: true,
      command: PROBE_COMMAND,
    });
    await unsafe.create(config("plain", "env > env.tmp && mv env.tmp env"));
    const env = await waitFor(() => readIfExists(join(unsafe.sandboxDir("plain"), "workspace", "env")), "the probe");
    expect(env).toContain(`LOOKOUT_WORKDIR=${join(unsafe.sandboxDir("plain"), "workspace", "repo")}`);
    expect(env).toContain("LOOKOUT_OPENCODE_BIN=/opt/host/opencode");
    await unsafe.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to start without a usable bubblewrap and says how to install it", async () => {
    const dir = tempDir("no-bwrap");
    mkdirSync(dir, { recursive: true });
    await expect(
      LocalProvider.start({ dataDir: dir, bridgeBundle: "/nonexistent", opencodeBin: undefined, bwrapPath: join(dir, "bwrap") }),
    ).rejects.toThrow(/apt-get install bubblewrap/);
    rmSync(dir, { recursive: true, force: true });
  });
});
