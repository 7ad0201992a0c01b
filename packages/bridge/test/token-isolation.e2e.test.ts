import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SANDBOX_TOKEN_API_KEY, type BridgeEventPayload, type SessionCommand } from "@lookout/protocol";
import { startScriptedModel, type ScriptedModel } from "@lookout/scripted-model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSession } from "./support/fake-session";
import { GitHttpServer } from "./support/git-http-server";

/**
 * Security issue 8: nothing the agent's processes can read holds the sandbox token. The built
 * bridge runs the way each provider runs it — in a real bubblewrap sandbox on an execute-only
 * Node with the token on its standard input (local), and as root starting OpenCode as uid 1000
 * (images) — against the fake session, a git server that wants a short-lived credential, and a
 * model behind a proxy that wants the token. The agent then runs `token-probe.ts` through OpenCode's
 * bash tool, which reads every environment, command line, memory and file it can for the token.
 */

const SESSION_ID = "sess_iso";
const SANDBOX_ID = "sbx_iso";
const BRANCH = `lookout/${SESSION_ID}`;
const GIT_PASSWORD = "lgc1.short-lived-git-credential";
const BRIDGE_BUNDLE = fileURLToPath(new URL("../dist/bridge.mjs", import.meta.url));
const PROBE = fileURLToPath(new URL("./support/token-probe.ts", import.meta.url));
const OPENCODE_BIN = join(dirname(createRequire(import.meta.url).resolve("opencode-ai/package.json")), "bin", "opencode.exe");
const NODE = realpathSync(process.execPath);
const AGENT_UID = 1000;
/** Paths inside the bubblewrap sandbox, as the local provider lays it out (`packages/sandbox/src/local/bwrap.ts`). */
const IN_SANDBOX = {
  workspace: "/workspace",
  workdir: "/workspace/repo",
  home: "/home/sandbox",
  node: "/opt/lookout/bin/node",
  bridgeNode: "/opt/lookout/libexec/node",
  bridge: "/opt/lookout/bridge.mjs",
  opencode: "/opt/lookout/opencode",
  probe: "/opt/lookout/token-probe.ts",
} as const;

const alice = { userId: "u_alice", name: "Alice Example", email: "alice@example.com" };

interface ProbeReport {
  uid: number;
  found: string[];
  counts: { environ: number; cmdline: number; mem: number; memBytes: number; files: number };
  bridges: Array<{ pid: number; uid: number | undefined; environ: string; mem: string; cmdlineHasToken: boolean }>;
}

/** One sandbox under test: its session, git server, bridge process and scratch directory. */
interface Rig {
  token: string;
  session: FakeSession;
  git: GitHttpServer;
  served: string;
  scratch: string;
  bridge: ChildProcess;
  log: () => string;
  /** Whether the pids the bridge logs are the host's (not a sandbox's PID namespace). */
  hostPids: boolean;
}

let model: ScriptedModel;
const rigs: Rig[] = [];

beforeAll(async () => {
  model = await startScriptedModel();
});

// Bridges stop side by side; on a loaded 2-core machine one may take several seconds to exit.
afterAll(async () => {
  await Promise.all(rigs.map(stopRig));
  await model?.close();
}, 90_000);

async function stopRig(rig: Rig): Promise<void> {
  // On SIGTERM a bridge started directly stops OpenCode's process group and exits; bubblewrap ends and takes its sandbox along.
  const exited = new Promise<boolean>((resolve) => {
    if (rig.bridge.exitCode !== null || rig.bridge.signalCode !== null) resolve(true);
    rig.bridge.once("exit", () => resolve(true));
    setTimeout(() => resolve(false), 30_000).unref();
  });
  rig.bridge.kill("SIGTERM");
  await exited;
  // Whatever is left: the bridge's group (bubblewrap takes its whole sandbox along) and OpenCode's.
  const opencode = rig.hostPids ? [...rig.log().matchAll(/"msg":"opencode is up"[^\n]*"pid":(\d+)/g)].map((m) => Number(m[1])) : [];
  const groups = [rig.bridge.pid, ...opencode];
  for (const pid of groups) {
    try {
      if (pid) process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await rig.session.close();
  await rig.git.close();
  rmSync(rig.scratch, { recursive: true, force: true });
}

/** A scratch directory the agent's uid can enter, a served repository with one commit, the fakes. */
async function startRig(): Promise<Omit<Rig, "bridge" | "log" | "hostPids">> {
  const token = randomBytes(32).toString("base64url");
  const scratch = mkdtempSync(join(tmpdir(), "lookout-isolation-"));
  chmodSync(scratch, 0o755);
  const served = join(scratch, "served");
  mkdirSync(served);
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", join(served, "project.git")], { env });
  const seed = join(scratch, "seed");
  execFileSync("git", ["clone", "--quiet", join(served, "project.git"), seed], { env });
  writeFileSync(join(seed, "README.md"), "# project\n");
  const identity = ["-c", "user.name=Seed", "-c", "user.email=seed@example.com"];
  execFileSync("git", ["add", "README.md"], { cwd: seed, env });
  execFileSync("git", [...identity, "commit", "--quiet", "-m", "seed"], { cwd: seed, env });
  execFileSync("git", ["push", "--quiet", "origin", "HEAD:main"], { cwd: seed, env });
  const git = await GitHttpServer.start({ root: served, password: GIT_PASSWORD });
  const session = await FakeSession.start({ sessionId: SESSION_ID, sandboxId: SANDBOX_ID, token });
  session.answers.set(`POST /api/sessions/${SESSION_ID}/git-credentials`, {
    status: 200,
    body: { username: "lookout", password: GIT_PASSWORD, expiresAt: Date.now() + 600_000 },
  });
  return { token, session, git, served, scratch };
}

/** The bridge's environment without the token: what every provider passes. */
function bridgeEnv(
  rig: Omit<Rig, "bridge" | "log" | "hostPids">,
  paths: { workdir: string; home: string; opencode: string },
): Record<string, string> {
  return {
    LOOKOUT_SESSION_ID: SESSION_ID,
    LOOKOUT_SANDBOX_ID: SANDBOX_ID,
    LOOKOUT_CONTROL_PLANE_URL: rig.session.baseUrl,
    LOOKOUT_REPO_URL: rig.git.url("project.git"),
    LOOKOUT_WORKDIR: paths.workdir,
    LOOKOUT_HOME: paths.home,
    LOOKOUT_BASE_BRANCH: "main",
    LOOKOUT_BRANCH: BRANCH,
    LOOKOUT_MODEL: "scripted/default",
    // The model's key is the sandbox token, by name only: the bridge relays and adds the token.
    LOOKOUT_MODEL_PROVIDERS: JSON.stringify([
      {
        id: "scripted",
        kind: "openai-compatible",
        baseUrl: rig.session.proxyModel("scripted", model.url),
        apiKey: SANDBOX_TOKEN_API_KEY,
        models: ["default"],
      },
    ]),
    LOOKOUT_OPENCODE_BIN: paths.opencode,
    LOOKOUT_HEARTBEAT_INTERVAL_MS: "1000",
    LOOKOUT_RECONNECT_MAX_DELAY_MS: "1000",
    LOOKOUT_LOG_LEVEL: "debug",
    // A repository secret: the agent's by design, so it must still reach OpenCode.
    MY_REPO_SECRET: "repo-secret-value",
    HOME: paths.home,
  };
}

function track(rig: Omit<Rig, "bridge" | "log" | "hostPids">, bridge: ChildProcess, hostPids: boolean): Rig {
  let log = "";
  bridge.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
  const started = { ...rig, bridge, log: () => log, hostPids };
  rigs.push(started);
  return started;
}

/** Waits for `bridge.ready`; a bridge that never gets there fails with its log. */
async function ready(rig: Rig): Promise<void> {
  const outcome = await rig.session
    .waitFor(
      "bridge.ready or agent.error",
      () => rig.session.stored.map((s) => s.event).find((e) => e.type === "bridge.ready" || e.type === "agent.error"),
      90_000,
    )
    .catch((error: unknown) => ({ type: String(error) }));
  if (outcome.type !== "bridge.ready") throw new Error(`the bridge did not get ready (${JSON.stringify(outcome)}):\n${rig.log()}`);
}

function prompt(promptId: string, text: string): SessionCommand {
  return {
    type: "command.prompt",
    promptId,
    text,
    author: alice,
    gitAuthor: { name: alice.name, email: alice.email },
    model: "scripted/default",
  };
}

/** Runs the probe as the agent and returns its report; the prompt must complete. */
async function probe(rig: Rig, promptId: string, command: string): Promise<ProbeReport> {
  rig.session.send(prompt(promptId, `run command ${command}`));
  const done = await rig.session.waitFor(
    `${promptId} finished`,
    () => rig.session.events("prompt.finished").find((e) => e.promptId === promptId),
    120_000,
  );
  const call = rig.session
    .promptEvents(promptId)
    .filter((e): e is Extract<BridgeEventPayload, { type: "tool.call" }> => e.type === "tool.call")
    .at(-1);
  const line = (call?.output ?? "").split("\n").find((l) => l.startsWith("TOKEN-PROBE "));
  if (!line) throw new Error(`the probe printed no report (prompt ${done.status}): ${call?.output ?? "no tool call"}\n${rig.log()}`);
  return JSON.parse(line.slice("TOKEN-PROBE ".length)) as ProbeReport;
}

/** The token, reversed and hex-encoded: what the probe's command line carries instead of it. */
function disguised(token: string): string {
  return Buffer.from(token.split("").reverse().join(""), "latin1").toString("hex");
}

/** What the bridge must have done in every mode: authenticated, cloned and pushed with the short-lived credential. */
async function expectWorkingBridge(rig: Rig): Promise<void> {
  rig.session.send(prompt("p_write", "write file notes/hello.txt containing Hello from the sandbox"));
  const pushed = await rig.session.waitFor("the push", () => rig.session.events("git.push").find((e) => e.promptId === "p_write"), 120_000);
  expect(pushed.status).toBe("pushed");
  const onRemote = execFileSync("git", ["rev-parse", `refs/heads/${BRANCH}`], {
    cwd: join(rig.served, "project.git"),
    encoding: "utf8",
  }).trim();
  expect(onRemote).toBe(pushed.headSha);
  expect(rig.session.rejectedUpgrades).toEqual([]);
  const asked = rig.session.requests.filter((r) => r.path === `/api/sessions/${SESSION_ID}/git-credentials`);
  expect(asked.length).toBeGreaterThanOrEqual(2);
  expect(asked.every((r) => r.authorization === `Bearer ${rig.token}` && r.sandboxId === SANDBOX_ID)).toBe(true);
  expect(rig.git.requests.length).toBeGreaterThan(0);
  expect(rig.git.requests.filter((r) => r.password !== GIT_PASSWORD)).toEqual([]);
  // Model calls went through the bridge's relay, which added the token the proxy wants.
  expect(rig.session.modelCalls.length).toBeGreaterThan(0);
  expect(rig.session.modelCalls.every((call) => call.withToken)).toBe(true);
}

/** Why bubblewrap cannot run here, or undefined when it can. */
function bubblewrapProblem(): string | undefined {
  if (!existsSync("/usr/bin/bwrap")) return "/usr/bin/bwrap is not installed";
  const probeRun = spawnSync(
    "/usr/bin/bwrap",
    ["--unshare-all", "--share-net", "--uid", String(AGENT_UID), ...systemMounts(), "--proc", "/proc", "--dev", "/dev", "--", "true"],
    { encoding: "utf8", timeout: 10_000 },
  );
  return probeRun.status === 0 ? undefined : `bubblewrap cannot create a sandbox here: ${probeRun.stderr.trim() || String(probeRun.error)}`;
}

function systemMounts(): string[] {
  const args: string[] = [];
  for (const dir of ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else args.push("--ro-bind", dir, dir);
  }
  for (const path of ["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/ld.so.cache"]) {
    args.push("--ro-bind-try", path, path);
  }
  return args;
}

const bwrapSkip = bubblewrapProblem();

describe.skipIf(bwrapSkip !== undefined)(
  `local provider: bubblewrap, execute-only Node, token on stdin${bwrapSkip ? ` (skipped: ${bwrapSkip})` : ""}`,
  () => {
    let rig: Rig;

    beforeAll(async () => {
      const base = await startRig();
      const workspace = join(base.scratch, "workspace");
      const home = join(base.scratch, "home");
      const etc = join(base.scratch, "etc");
      const libexec = join(base.scratch, "libexec");
      for (const dir of [workspace, home, etc, libexec]) mkdirSync(dir);
      // Inside, uid 1000 maps to the user running the test: it owns these.
      writeFileSync(
        join(etc, "passwd"),
        `root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:${AGENT_UID}:${AGENT_UID}::${IN_SANDBOX.home}:/bin/sh\n`,
      );
      writeFileSync(join(etc, "group"), `root:x:0:\nsandbox:x:${AGENT_UID}:\n`);
      // The provider's execute-only copy of Node: the kernel makes a process running it non-dumpable.
      const bridgeNode = join(libexec, "node");
      copyFileSync(NODE, bridgeNode);
      chmodSync(bridgeNode, 0o111);
      const args = [
        "--unshare-all",
        // The fakes listen on the host's loopback; the relay that replaces this is the provider's to test.
        "--share-net",
        "--die-with-parent",
        "--new-session",
        "--uid",
        String(AGENT_UID),
        "--gid",
        String(AGENT_UID),
        ...systemMounts(),
        "--ro-bind",
        join(etc, "passwd"),
        "/etc/passwd",
        "--ro-bind",
        join(etc, "group"),
        "/etc/group",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--bind",
        workspace,
        IN_SANDBOX.workspace,
        "--bind",
        home,
        IN_SANDBOX.home,
        "--ro-bind",
        NODE,
        IN_SANDBOX.node,
        "--ro-bind",
        bridgeNode,
        IN_SANDBOX.bridgeNode,
        "--ro-bind",
        BRIDGE_BUNDLE,
        IN_SANDBOX.bridge,
        "--ro-bind",
        OPENCODE_BIN,
        IN_SANDBOX.opencode,
        "--ro-bind",
        PROBE,
        IN_SANDBOX.probe,
        "--chdir",
        IN_SANDBOX.workspace,
        "--",
        IN_SANDBOX.bridgeNode,
        IN_SANDBOX.bridge,
      ];
      const env = {
        ...bridgeEnv(base, { workdir: IN_SANDBOX.workdir, home: IN_SANDBOX.home, opencode: IN_SANDBOX.opencode }),
        PATH: `${dirname(IN_SANDBOX.node)}:/usr/bin:/bin`,
        LOOKOUT_SANDBOX_TOKEN_SOURCE: "stdin",
        LOOKOUT_AGENT_ISOLATION: "non-dumpable",
      };
      const bridge = spawn("/usr/bin/bwrap", args, { env, stdio: ["pipe", "ignore", "pipe"], detached: true });
      bridge.stdin?.end(`${base.token}\n`);
      rig = track(base, bridge, false);
      await ready(rig);
    }, 120_000);

    it("authenticates, clones, pushes with a short-lived credential and reaches the model through its relay", async () => {
      await expectWorkingBridge(rig);
      // Started by bubblewrap directly, as the local provider does, it had to re-execute itself to become non-dumpable.
      expect(rig.log()).toMatch(/"msg":"agent isolation[^\n]*"mode":"non-dumpable"[^\n]*"reexecuted":true/);
    }, 150_000);

    it("leaves the token in no environment, command line, readable memory or file the agent can reach", async () => {
      const report = await probe(
        rig,
        "p_probe",
        `node --no-warnings ${IN_SANDBOX.probe} ${disguised(rig.token)} ${IN_SANDBOX.workspace},${IN_SANDBOX.home},/tmp`,
      );
      expect(report.found).toEqual([]);
      expect(report.uid).toBe(AGENT_UID);
      // The scan saw the sandbox: bubblewrap's and OpenCode's environments, OpenCode's memory, the checkout.
      expect(report.counts.environ).toBeGreaterThanOrEqual(2);
      expect(report.counts.mem).toBeGreaterThanOrEqual(2);
      expect(report.counts.memBytes).toBeGreaterThan(10 * 1024 * 1024);
      expect(report.counts.files).toBeGreaterThan(5);
      // The bridge itself is the same uid, and closed all the same.
      expect(report.bridges).toHaveLength(1);
      expect(report.bridges[0]).toMatchObject({ uid: AGENT_UID, environ: "EACCES", mem: "EACCES", cmdlineHasToken: false });
    }, 150_000);

    it("still hands the repository's secrets to the agent", async () => {
      const report = await probe(
        rig,
        "p_secret",
        `node -e "console.log('TOKEN-PROBE ' + JSON.stringify({ found: [process.env.MY_REPO_SECRET] }))"`,
      );
      expect(report.found).toEqual(["repo-secret-value"]);
    }, 150_000);
  },
);

const rootSkip = process.getuid?.() === 0 ? undefined : "the test does not run as root, so it cannot start a bridge that switches users";

describe.skipIf(rootSkip !== undefined)(
  `image providers: the bridge as root, OpenCode as uid ${AGENT_UID}${rootSkip ? ` (skipped: ${rootSkip})` : ""}`,
  () => {
    let rig: Rig;

    beforeAll(async () => {
      const base = await startRig();
      const env = {
        ...bridgeEnv(base, { workdir: join(base.scratch, "workspace", "repo"), home: join(base.scratch, "home"), opencode: OPENCODE_BIN }),
        PATH: `${dirname(NODE)}:/usr/bin:/bin`,
        LOOKOUT_SANDBOX_TOKEN: base.token,
        LOOKOUT_AGENT_ISOLATION: "separate-user",
        LOOKOUT_AGENT_USER: String(AGENT_UID),
      };
      const bridge = spawn(NODE, [BRIDGE_BUNDLE], { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
      rig = track(base, bridge, true);
      await ready(rig);
    }, 120_000);

    it("authenticates, clones, pushes with a short-lived credential and reaches the model through its relay", async () => {
      await expectWorkingBridge(rig);
      expect(rig.log()).toContain(`"mode":"separate-user"`);
      expect(rig.log()).toMatch(new RegExp(`"msg":"opencode is up".*"uid":${AGENT_UID}`));
    }, 150_000);

    it(`runs the agent as uid ${AGENT_UID}, which cannot read the root bridge nor find the token`, async () => {
      const workspace = join(rig.scratch, "workspace");
      const home = join(rig.scratch, "home");
      const report = await probe(
        rig,
        "p_probe",
        `node --no-warnings ${PROBE} ${disguised(rig.token)} ${workspace},${home},${join(tmpdir(), "lookout-bridge-*")}`,
      );
      expect(report.found).toEqual([]);
      expect(report.uid).toBe(AGENT_UID);
      // The scan read what uid 1000 can: the agent's shell at least (a process root started as
      // another user may be non-dumpable itself), the checkout and the home.
      expect(report.counts.environ).toBeGreaterThanOrEqual(1);
      expect(report.counts.mem).toBeGreaterThanOrEqual(1);
      expect(report.counts.files).toBeGreaterThan(5);
      const ours = report.bridges.find((b) => b.pid === rig.bridge.pid);
      expect(ours).toMatchObject({ uid: 0, environ: "EACCES", mem: "EACCES", cmdlineHasToken: false });
    }, 150_000);
  },
);
