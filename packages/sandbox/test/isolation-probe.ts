import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { LocalProvider } from "../src/index";
import { readIfExists, startUplinkStub, waitFor } from "./helpers";

/**
 * What a sandbox sees of its host, probed from inside a real bubblewrap sandbox. The probe runs in
 * the calling process's identity: the isolation test runs it in-process (as the test's user) and,
 * when that user is root, again in a child process as an unprivileged user (`isolation-probe-main.ts`).
 */

export interface PathProbe {
  readonly path: string;
  /** What the host wrote there (the sandbox must not see it). */
  readonly content: string;
  /** Exit status of `test -e <path>` inside the sandbox. */
  readonly testExit: number;
  /** Exit status of `cat <path>` inside the sandbox. */
  readonly catExit: number;
  /** What `cat` printed inside the sandbox, its newlines and tabs as spaces. */
  readonly catOutput: string;
}

export interface ProcessEntry {
  readonly pid: number;
  /** `/proc/<pid>/cmdline` with NULs as spaces, as read inside the sandbox. */
  readonly cmdline: string;
}

export interface IsolationProbeResult {
  /** The host uid the provider, bubblewrap and so the sandbox's files ran as. */
  readonly hostUid: number;
  /** The bubblewrap binary the provider ran. */
  readonly bwrapPath: string;
  /** Files the host made readable to its own user: one in a fresh temporary directory, one under its home. */
  readonly hidden: readonly PathProbe[];
  /**
   * The host's private-key directories that exist on this host. Only their public siblings (CA
   * certificates) are bound in: a sandbox started by root runs as the files' owner and would read them.
   */
  readonly keyDirs: readonly PathProbe[];
  /** The host's CA bundles that exist on this host: sandboxes need them for TLS. */
  readonly caBundles: readonly PathProbe[];
  /** A file that is in the sandbox (its /etc/passwd), probed the same way: proof that the probe can see. */
  readonly control: PathProbe;
  /** Every `/proc/<pid>` visible inside the sandbox. */
  readonly processes: readonly ProcessEntry[];
  /** Host processes running while the sandbox probed: pid and command line, as the host sees them. */
  readonly hostProcesses: readonly ProcessEntry[];
}

const BWRAP_PATH = "/usr/bin/bwrap";
/** Marks the host process the sandbox must not see; random so nothing else has this command line. */
const HOST_MARKER_PREFIX = "lookout-isolation-host-marker-";
/** Where distributions keep TLS private keys, next to the CA certificates sandboxes need. */
const HOST_KEY_DIRS = ["/etc/ssl/private", "/etc/pki/tls/private"];
const HOST_CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

const PROBE_SCRIPT = String.raw`
for p in $PROBE_PATHS; do
  test -e "$p"; t=$?
  out=$(cat "$p" 2>/dev/null); c=$?
  printf '%s\t%s\t%s\t%s\n' "$p" "$t" "$c" "$(printf %s "$out" | tr '\n\t' '  ')" >> /workspace/paths.tmp
done
for d in /proc/[0-9]*; do
  printf '%s\t%s\n' "$(basename "$d")" "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" >> /workspace/procs.tmp
done
mv /workspace/paths.tmp /workspace/paths && mv /workspace/procs.tmp /workspace/procs
`;

/**
 * Creates the host files, starts a provider of its own (data dir under the temporary directory),
 * runs one sandbox that probes the files and lists /proc while a marker process runs on the host,
 * and removes everything it made. Leaves no process behind.
 */
export async function runIsolationProbe(): Promise<IsolationProbeResult> {
  const secret = `lookout-isolation-secret-${randomBytes(12).toString("hex")}`;
  const tmpSecretDir = mkdtempSync(join(tmpdir(), "lookout-isolation-secret-"));
  const homeSecretDir = mkdtempSync(join(homedir(), ".lookout-isolation-secret-"));
  const dataDir = mkdtempSync(join(tmpdir(), "lookout-isolation-data-"));
  const hiddenFiles = [join(tmpSecretDir, "secret.txt"), join(homeSecretDir, "secret.txt")];
  // Owner-only: readable by this user, and so by a sandbox that could see it (it runs as this user).
  for (const file of hiddenFiles) writeFileSync(file, secret, { mode: 0o600 });
  const controlFile = "/etc/passwd";
  const keyDirs = HOST_KEY_DIRS.filter((dir) => existsSync(dir));
  const caBundles = HOST_CA_BUNDLES.filter((file) => existsSync(file));
  let marker: ChildProcess | undefined;
  let provider: LocalProvider | undefined;
  let uplink: Awaited<ReturnType<typeof startUplinkStub>> | undefined;
  try {
    marker = await startHostMarker();
    provider = await LocalProvider.start({
      dataDir,
      bridgeBundle: join(dataDir, "no-bridge.mjs"),
      opencodeBin: undefined,
      bwrapPath: BWRAP_PATH,
      command: ["/bin/sh", "-c", 'eval "$PROBE_SCRIPT"'],
    });
    uplink = await startUplinkStub(dataDir);
    await provider.create({
      sandboxId: "isolation",
      env: { PROBE_SCRIPT, PROBE_PATHS: [...hiddenFiles, ...keyDirs, ...caBundles, controlFile].join("\n") },
      source: { kind: "image" },
      timeoutMs: 60_000,
      uplinkSocket: uplink.path,
    });
    const workspace = join(provider.sandboxDir("isolation"), "workspace");
    const sandbox = provider;
    const procs = await waitFor(
      async () => {
        const written = readIfExists(join(workspace, "procs"));
        if (written !== undefined) return written;
        // A sandbox that ended without writing its result failed to start: say why, now.
        if ((await sandbox.status("isolation")) !== "running") {
          throw new Error(`The probe's sandbox ended early: ${readIfExists(join(sandbox.sandboxDir("isolation"), "log"))}`);
        }
        return undefined;
      },
      "the isolation probe",
      30_000,
    );
    const hostProcesses = [process.pid, marker.pid ?? -1, 1].map((pid) => ({ pid, cmdline: hostCmdline(pid) }));
    const paths = parsePaths(readFileSync(join(workspace, "paths"), "utf8"));
    const probeOf = (path: string, content: string): PathProbe => {
      const probe = paths.find((entry) => entry.path === path);
      if (!probe) throw new Error(`The probe did not report ${path}`);
      return { ...probe, content };
    };
    return {
      hostUid: process.getuid?.() ?? -1,
      bwrapPath: BWRAP_PATH,
      hidden: hiddenFiles.map((file) => probeOf(file, secret)),
      keyDirs: keyDirs.map((dir) => probeOf(dir, "")),
      caBundles: caBundles.map((file) => probeOf(file, "")),
      control: probeOf(controlFile, ""),
      processes: procs
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const [pid = "", cmdline = ""] = line.split("\t");
          return { pid: Number(pid), cmdline: cmdline.trimEnd() };
        }),
      hostProcesses,
    };
  } finally {
    await provider?.close();
    await uplink?.close();
    if (marker) await stopProcess(marker);
    for (const dir of [tmpSecretDir, homeSecretDir, dataDir]) rmSync(dir, { recursive: true, force: true });
  }
}

function parsePaths(text: string): Omit<PathProbe, "content">[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [path = "", testExit = "", catExit = "", ...output] = line.split("\t");
      return { path, testExit: Number(testExit), catExit: Number(catExit), catOutput: output.join("\t") };
    });
}

/** A host process with a command line nothing else has, running until `stopProcess`. */
async function startHostMarker(): Promise<ChildProcess> {
  const tag = `${HOST_MARKER_PREFIX}${randomBytes(8).toString("hex")}`;
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 60_000)", tag], { stdio: "ignore" });
  const pid = child.pid;
  if (pid === undefined) throw new Error("The host marker process did not start");
  await waitFor(() => existsSync(`/proc/${pid}/cmdline`) && hostCmdline(pid).includes(tag), "the host marker to run");
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
}

function hostCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trimEnd();
  } catch {
    return "";
  }
}
