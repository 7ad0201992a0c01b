import { spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IsolationProbeResult, runIsolationProbe } from "./isolation-probe";

/**
 * A local (bubblewrap) sandbox sees none of its host's files outside what the provider binds in, and
 * none of its host's processes. The probe runs once as the test's own user and, when that user is
 * root (as in CI), once more as an unprivileged user: bubblewrap maps the sandbox's user to whoever
 * started it, so the two runs exercise different host identities behind the same sandbox user.
 */

const UNPRIVILEGED_UID = 65_534;
const RUNS_AS_ROOT = process.getuid?.() === 0;
const CHILD_TIMEOUT_MS = 90_000;

function describeIsolation(label: string, probe: () => Promise<IsolationProbeResult>): void {
  describe(`a local sandbox started by ${label}`, () => {
    let result: IsolationProbeResult;

    beforeAll(async () => {
      result = await probe();
    }, CHILD_TIMEOUT_MS + 10_000);

    it("cannot see or read a file its host user made in a fresh temporary directory or under its home", () => {
      // The same probe sees and reads a file that is in the sandbox, so a failure below is the file's absence.
      expect(result.control).toMatchObject({ testExit: 0, catExit: 0 });
      expect(result.control.catOutput).toContain("sandbox:x:");
      expect(result.hidden).toHaveLength(2);
      for (const file of result.hidden) {
        expect(file.testExit, `test -e ${file.path}`).not.toBe(0);
        expect(file.catExit, `cat ${file.path}`).not.toBe(0);
        expect(file.catOutput, file.path).not.toContain(file.content);
      }
    });

    it("sees none of the host's TLS private-key directories, only the CA certificates beside them", () => {
      expect(result.caBundles.length).toBeGreaterThan(0);
      for (const bundle of result.caBundles) {
        expect(bundle, bundle.path).toMatchObject({ testExit: 0, catExit: 0 });
        expect(bundle.catOutput, bundle.path).toContain("BEGIN CERTIFICATE");
      }
      for (const dir of result.keyDirs) expect(dir.testExit, `test -e ${dir.path}`).not.toBe(0);
    });

    it("lists in /proc only its own processes: none of the host's, not the test runner, not the host's init", () => {
      const ownShell = 'eval "$PROBE_SCRIPT"';
      // The probe's shell lists itself, so an empty or unreadable /proc cannot pass.
      expect(result.processes.some((entry) => entry.cmdline.endsWith(ownShell))).toBe(true);
      for (const entry of result.processes) {
        // bubblewrap's own init (pid 1 of the sandbox's PID namespace) or the probe's shell.
        const belongs =
          (entry.cmdline.startsWith(`${result.bwrapPath} `) && entry.cmdline.includes("--unshare-all")) ||
          entry.cmdline.startsWith(`/bin/sh -c ${ownShell}`);
        expect(belongs, `pid ${entry.pid}: ${entry.cmdline}`).toBe(true);
      }
      const hostCommands = result.hostProcesses.map((host) => host.cmdline);
      expect(hostCommands.every((cmdline) => cmdline !== "")).toBe(true);
      for (const cmdline of hostCommands) expect(result.processes.map((entry) => entry.cmdline)).not.toContain(cmdline);
      expect(result.processes.map((entry) => entry.cmdline).join("\n")).not.toMatch(/vitest|systemd|lookout-isolation-host-marker/);
    });
  });
}

describeIsolation(`the test's own user (uid ${process.getuid?.() ?? "unknown"})`, runIsolationProbe);

describe.runIf(RUNS_AS_ROOT)("as root, also an unprivileged host user", () => {
  const dirs: string[] = [];

  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  describeIsolation(`an unprivileged user (uid ${UNPRIVILEGED_UID})`, async () => {
    // Its home: a directory of its own where home directories live (/home), as a real user's would be.
    const home = mkdtempSync(join(existsSync("/home") ? "/home" : tmpdir(), "lookout-isolation-home-"));
    dirs.push(home);
    chownSync(home, UNPRIVILEGED_UID, UNPRIVILEGED_UID);
    const result = await runAs(UNPRIVILEGED_UID, home);
    expect(result.hostUid).toBe(UNPRIVILEGED_UID);
    return result;
  });
});

/** Runs `isolation-probe-main.ts` as `uid` (and the same gid) with `home` as its home directory. */
async function runAs(uid: number, home: string): Promise<IsolationProbeResult> {
  const tsx = createRequire(import.meta.url).resolve("tsx/cli");
  const child = spawn(process.execPath, [tsx, join(import.meta.dirname, "isolation-probe-main.ts")], {
    uid,
    gid: uid,
    cwd: home,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, TMPDIR: tmpdir() },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  clearTimeout(deadline);
  if (code !== 0) throw new Error(`The probe as uid ${uid} exited with ${code}:\n${stderr}`);
  return JSON.parse(stdout) as IsolationProbeResult;
}
