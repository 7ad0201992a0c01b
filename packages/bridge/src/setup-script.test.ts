import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runSetupScript, SETUP_SCRIPT_PATH } from "./setup-script";

let workdir: string;

beforeEach(async () => {
  workdir = await mkdtemp(join(tmpdir(), "setup-script-"));
  await mkdir(join(workdir, ".lookout"));
});
afterEach(async () => {
  await rm(workdir, { recursive: true, force: true });
});

const script = (body: string): Promise<void> => writeFile(join(workdir, SETUP_SCRIPT_PATH), body);

/** Whether a process with this pid still exists. */
/** Whether `pid` still runs: a process that exists and is not a zombie (killed, waiting to be reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Waits (with a deadline) until `pid` no longer runs: a SIGKILL is delivered asynchronously. */
async function ended(pid: number): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe("the repository's setup script", () => {
  it("is absent, not failed, when the repository has none", async () => {
    await expect(runSetupScript({ workdir })).resolves.toEqual({ status: "absent", scriptPath: SETUP_SCRIPT_PATH });
  });

  it("runs with bash in the work tree, and its output (stdout and stderr) is kept", async () => {
    // No shebang and no execute bit: it is run with bash, not executed.
    await script('echo "installing in $(pwd)"\necho warning >&2\ntouch .setup-done\n');
    const result = await runSetupScript({ workdir });
    expect(result).toMatchObject({ status: "succeeded", truncated: false });
    if (result.status !== "succeeded") throw new Error("unreachable");
    expect(result.output).toContain(`installing in ${workdir}`);
    expect(result.output).toContain("warning");
    expect(existsSync(join(workdir, ".setup-done"))).toBe(true);
  });

  it("fails with the exit code and the output when the script fails", async () => {
    await script("echo 'npm ERR! missing package'\nexit 3\n");
    const result = await runSetupScript({ workdir });
    expect(result).toMatchObject({ status: "failed", exitCode: 3, signal: null });
    if (result.status !== "failed") throw new Error("unreachable");
    expect(result.output).toContain("npm ERR! missing package");
  });

  it("is killed at its time limit, with everything it started in the background", async () => {
    await script("sleep 300 &\necho $! > background.pid\necho started\nsleep 300\n");
    const result = await runSetupScript({ workdir, timeoutMs: 500 });
    expect(result).toMatchObject({ status: "timed-out", timeoutMs: 500 });
    if (result.status !== "timed-out") throw new Error("unreachable");
    expect(result.output).toContain("started");
    const backgroundPid = Number((await readFile(join(workdir, "background.pid"), "utf8")).trim());
    expect(await ended(backgroundPid)).toBe(true);
  });

  it("keeps only the tail of a long output and says that it cut", async () => {
    await script('for i in $(seq 1 2000); do echo "line $i"; done\n');
    const result = await runSetupScript({ workdir, maxOutputChars: 100 });
    expect(result).toMatchObject({ status: "succeeded", truncated: true });
    if (result.status !== "succeeded") throw new Error("unreachable");
    expect(result.output.length).toBe(100);
    expect(result.output.trimEnd().endsWith("line 2000")).toBe(true);
  });

  it("sees none of the bridge's LOOKOUT_ variables, and the rest of the environment", async () => {
    await script('echo "token=${LOOKOUT_SANDBOX_TOKEN:-none} secret=${MY_SECRET:-none}"\n');
    const result = await runSetupScript({ workdir, env: { PATH: process.env.PATH, LOOKOUT_SANDBOX_TOKEN: "t0ken", MY_SECRET: "s3" } });
    if (result.status !== "succeeded") throw new Error(`expected success, got ${JSON.stringify(result)}`);
    expect(result.output).toContain("token=none secret=s3");
  });

  it("refuses a setup script that is a symbolic link, without following it", async () => {
    const outside = join(workdir, "..", `outside-${Date.now()}.sh`);
    await writeFile(outside, "touch ran-outside\n");
    await symlink(outside, join(workdir, SETUP_SCRIPT_PATH));
    try {
      const result = await runSetupScript({ workdir });
      expect(result).toMatchObject({ status: "failed", exitCode: null });
      expect(existsSync(join(workdir, "ran-outside"))).toBe(false);
    } finally {
      await rm(outside, { force: true });
    }
  });
});
