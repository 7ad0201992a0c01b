import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalProvider, type SandboxCreateConfig, SandboxProviderError } from "../src/index";
import { descendantsOf, hostListeningPorts, isAlive, makeGitRepo, readIfExists, startUplinkStub, tempDir, waitFor } from "./helpers";

/**
 * Real bubblewrap sandboxes. The provider runs a probe script (from the sandbox's env) instead of
 * the bridge, and each test reads what the script left in its workspace from the host side.
 */
const PROBE_COMMAND = ["/bin/sh", "-c", 'eval "$PROBE_SCRIPT"'];

/**
 * What the bridge's uplink does, as a probe step: forwards 127.0.0.1:4480 inside the sandbox to the
 * relay socket bound at /run/lookout/uplink.sock.
 */
const FORWARDER =
  "node -e \"const net=require('net');net.createServer(c=>{const u=net.connect('/run/lookout/uplink.sock');c.pipe(u);u.pipe(c);u.on('error',()=>c.destroy());c.on('error',()=>u.destroy())}).listen(4480,'127.0.0.1')\" &";

let dataDir: string;
let provider: LocalProvider;
let uplink: { path: string; close(): Promise<void> };
let uplinkHandler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;

function config(sandboxId: string, script: string, extra: Partial<SandboxCreateConfig> = {}): SandboxCreateConfig {
  return { sandboxId, env: { PROBE_SCRIPT: script }, source: { kind: "image" }, timeoutMs: 60_000, uplinkSocket: uplink.path, ...extra };
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
  uplink = await startUplinkStub(dataDir, (request, response) => {
    if (uplinkHandler) uplinkHandler(request, response);
    else response.end("uplink ok");
  });
});

afterAll(async () => {
  await provider.close();
  await uplink.close();
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
      uplinkSocket: uplink.path,
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

  it("starts with an empty workspace: the repository is cloned over HTTP through the relay socket", async () => {
    // Git's dumb HTTP protocol served on the relay socket stands in for the gateway's git endpoint:
    // the sandbox reaches it through its one way out, never through a path or the host's network.
    const repo = makeGitRepo(tempDir("http-repo"));
    const bare = join(tempDir("http-bare"), "repo.git");
    execFileSync("git", ["clone", "--quiet", "--bare", repo, bare]);
    execFileSync("git", ["update-server-info"], { cwd: bare });
    uplinkHandler = (request, response) => {
      const file = join(bare, normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)).replace(/^\/repo\.git/, ""));
      if (!file.startsWith(bare) || !existsSync(file) || !statSync(file).isFile()) return void response.writeHead(404).end();
      response.writeHead(200).end(readFileSync(file));
    };
    try {
      await provider.create(
        config("cloned", "", {
          env: {
            PROBE_SCRIPT: [
              FORWARDER,
              "test -e /workspace/repo; echo $? > /workspace/had-repo",
              "until node -e \"require('net').connect(4480,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))\"; do :; done",
              "git clone --quiet http://127.0.0.1:4480/repo.git /workspace/repo 2> /workspace/clone-errors",
              "git -C /workspace/repo rev-parse --abbrev-ref HEAD > /workspace/branch.tmp && mv /workspace/branch.tmp /workspace/branch",
            ].join("\n"),
          },
        }),
      );
      const branch = await waitFor(() => readIfExists(workspaceFile("cloned", "branch")), "the clone probe");
      expect(branch.trim()).toBe("main");
      expect(readFileSync(workspaceFile("cloned", "had-repo"), "utf8").trim()).toBe("1");
      expect(readFileSync(workspaceFile("cloned", "repo/README.md"), "utf8")).toBe("# seeded\n");
    } finally {
      uplinkHandler = undefined;
      await provider.terminate("cloned");
      rmSync(repo, { recursive: true, force: true });
      rmSync(bare, { recursive: true, force: true });
    }
  }, 60_000);

  it("sandbox cannot reach any host listener: its network is loopback only, the relay socket its one way out", async () => {
    // Listeners on the host's loopback and on every interface, plus whatever else this host runs.
    const loopback = createServer((_request, response) => response.end("host loopback"));
    const everywhere = createServer((_request, response) => response.end("host all interfaces"));
    await new Promise<void>((resolve) => loopback.listen(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => everywhere.listen(0, "0.0.0.0", resolve));
    const ports = hostListeningPorts();
    expect(ports).toContain((loopback.address() as AddressInfo).port);
    expect(ports).toContain((everywhere.address() as AddressInfo).port);
    const hostAddresses = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => entry.family === "IPv4")
      .map((entry) => entry.address);
    const targets = [...hostAddresses, "localhost"].flatMap((host) => ports.map((port) => `${host}:${port}`));
    const probe = `
      const net = require("net"), fs = require("fs");
      const targets = ${JSON.stringify(targets)};
      const reached = [];
      let pending = targets.length;
      const finish = () => {
        const relay = net.connect("/run/lookout/uplink.sock");
        let answer = "";
        relay.on("connect", () => relay.write("GET / HTTP/1.1\\r\\nhost: x\\r\\nconnection: close\\r\\n\\r\\n"));
        relay.on("data", (chunk) => (answer += chunk));
        relay.on("error", (error) => (answer = "error " + error.code));
        relay.on("close", () => {
          fs.writeFileSync("/workspace/result.tmp", JSON.stringify({ reached, relay: answer, interfaces: fs.readFileSync("/proc/net/dev", "utf8") }));
          fs.renameSync("/workspace/result.tmp", "/workspace/result");
        });
      };
      for (const target of targets) {
        const [host, port] = target.split(":");
        const socket = net.connect({ host, port: Number(port), timeout: 3000 });
        const done = (ok) => { if (ok) reached.push(target); socket.destroy(); if (--pending === 0) finish(); };
        socket.once("connect", () => done(true));
        socket.once("error", () => done(false));
        socket.once("timeout", () => done(false));
      }
    `;
    try {
      await provider.create(config("netprobe", "", { env: { PROBE_SCRIPT: `node -e '${probe.replace(/'/g, "'\\''")}'` } }));
      const result = JSON.parse(await waitFor(() => readIfExists(workspaceFile("netprobe", "result")), "the network probe", 60_000)) as {
        reached: string[];
        relay: string;
        interfaces: string;
      };
      expect(targets.length).toBeGreaterThan(2);
      expect(result.reached).toEqual([]);
      expect(result.relay).toContain("uplink ok");
      const interfaces = result.interfaces
        .split("\n")
        .slice(2)
        .map((line) => line.split(":")[0]?.trim())
        .filter(Boolean);
      expect(interfaces).toEqual(["lo"]);
    } finally {
      await provider.terminate("netprobe");
      await new Promise<void>((resolve) => loopback.close(() => resolve()));
      await new Promise<void>((resolve) => everywhere.close(() => resolve()));
    }
  }, 90_000);

  it("hands the sandbox token on stdin: no environment in the sandbox holds it, bubblewrap's included", async () => {
    const token = "lks_test-token-0123456789abcdef0123456789";
    const script = [
      'read -r received; printf %s "$received" > /workspace/received',
      "env > /workspace/env",
      "for f in /proc/[0-9]*/environ; do cat $f 2>/dev/null; done | tr '\\0' '\\n' > /workspace/all-environ",
      "touch /workspace/done",
    ].join("; ");
    await provider.create(config("token", script, { env: { PROBE_SCRIPT: script, LOOKOUT_SANDBOX_TOKEN: token } }));
    await waitFor(() => existsSync(workspaceFile("token", "done")), "the probe to finish");
    expect(readFileSync(workspaceFile("token", "received"), "utf8")).toBe(token);
    const env = readFileSync(workspaceFile("token", "env"), "utf8");
    expect(env).toContain("LOOKOUT_SANDBOX_TOKEN_SOURCE=stdin");
    expect(env).not.toContain(token);
    const environs = readFileSync(workspaceFile("token", "all-environ"), "utf8");
    expect(environs).toContain("LOOKOUT_SANDBOX_TOKEN_SOURCE=stdin");
    expect(environs).not.toContain(token);
    await provider.terminate("token");
  });

  it("runs the bridge's Node execute-only, so the sandbox user cannot read that process's environ or memory", async () => {
    const script = [
      "SECRET_IN_BRIDGE=hidden-value /opt/lookout/libexec/node -e 'setInterval(() => {}, 1000)' &",
      "pid=$!",
      "until [ -e /proc/$pid/status ]; do :; done",
      "cat /proc/$pid/environ > /dev/null 2>&1; echo $? > /workspace/environ",
      "head -c 1 /proc/$pid/mem > /dev/null 2>&1; echo $? > /workspace/mem",
      "cat /opt/lookout/libexec/node > /dev/null 2>&1; echo $? > /workspace/read-binary",
      "touch /workspace/done",
    ].join("\n");
    await provider.create(config("nondump", script));
    await waitFor(() => existsSync(workspaceFile("nondump", "done")), "the probe to finish");
    expect(readFileSync(workspaceFile("nondump", "environ"), "utf8").trim()).not.toBe("0");
    expect(readFileSync(workspaceFile("nondump", "mem"), "utf8").trim()).not.toBe("0");
    expect(readFileSync(workspaceFile("nondump", "read-binary"), "utf8").trim()).not.toBe("0");
    await provider.terminate("nondump");
  }, 60_000);

  it("reports a stopped sandbox after its process exits and refuses a duplicate id", async () => {
    await provider.create(config("short", "exit 0"));
    await waitFor(async () => (await provider.status("short")) === "stopped", "the sandbox to stop");
    await expect(provider.create(config("short", "true"))).rejects.toMatchObject({ kind: "permanent", reason: "conflict" });
    await provider.terminate("short");
  });

  it("deletes a snapshot's archive, and refuses an id that could reach outside the snapshots directory", async () => {
    await provider.create(config("doomed", "touch /workspace/started; sleep 600"));
    await waitFor(() => existsSync(workspaceFile("doomed", "started")), "the sandbox to start");
    const { snapshotId } = await provider.snapshot("doomed");
    await provider.terminate("doomed");
    const archive = join(dataDir, "snapshots", `${snapshotId}.tar.gz`);
    expect(existsSync(archive)).toBe(true);

    await provider.deleteSnapshot(snapshotId);
    expect(existsSync(archive)).toBe(false);
    await provider.deleteSnapshot(snapshotId);

    // Decoys where a path-joined id would land.
    writeFileSync(join(dataDir, "x.tar.gz"), "decoy");
    writeFileSync(join(dataDir, "snapshots", "x.tar.gz"), "decoy");
    for (const badId of ["../x", "x", "snap_../../x", "/etc/passwd", `${snapshotId}/..`, ""]) {
      const error = await provider.deleteSnapshot(badId).catch((caught: unknown) => caught);
      expect(error, badId).toBeInstanceOf(SandboxProviderError);
      expect(error, badId).toMatchObject({ kind: "permanent", reason: "invalid_request" });
    }
    expect(readFileSync(join(dataDir, "x.tar.gz"), "utf8")).toBe("decoy");
    expect(readFileSync(join(dataDir, "snapshots", "x.tar.gz"), "utf8")).toBe("decoy");
  });

  it("classifies an unknown snapshot as a permanent not_found error", async () => {
    const error = await provider
      .restore("snap_doesnotexistdoesnotexist", { sandboxId: "ghost", env: {}, timeoutMs: 1_000, uplinkSocket: uplink.path })
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
