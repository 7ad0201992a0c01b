import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, writeFileSync } from "node:fs";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { UPLINK } from "@lookout/protocol";

/** Where the host's tools appear inside a local sandbox (the same paths as in the image). */
export const SANDBOX_PATHS = {
  workspace: SANDBOX_IMAGE.workspaceDir,
  home: SANDBOX_IMAGE.user.home,
  lookoutDir: SANDBOX_IMAGE.lookoutDir,
  node: `${SANDBOX_IMAGE.lookoutDir}/bin/node`,
  /**
   * The bridge's own Node: an execute-only copy (mode 0111), off the PATH. Executing a file its
   * user cannot read makes the kernel mark the process non-dumpable, so the agent's processes
   * (the same uid) cannot open the bridge's `/proc/<pid>/environ`, `mem` or `fd`.
   */
  bridgeNode: `${SANDBOX_IMAGE.lookoutDir}/libexec/node`,
  /** The gateway's relay socket for this sandbox: its only way out. */
  uplinkSocket: UPLINK.socketPath,
  opencode: SANDBOX_IMAGE.opencodeBin,
  opencodeOnPath: `${SANDBOX_IMAGE.lookoutDir}/bin/opencode`,
  bridge: SANDBOX_IMAGE.bridgePath,
  /** OpenCode's global config directory, with the packages it would otherwise install at start. */
  opencodeConfig: SANDBOX_IMAGE.opencodeConfig.dir,
} as const;

export const SANDBOX_UID = SANDBOX_IMAGE.user.uid;

/**
 * The pieces of the host's /etc a sandbox needs for DNS, TLS, git, fonts and Chromium. Each is
 * bound read-only if it exists; nothing else of /etc is visible. Of the TLS directories only the
 * public parts are bound, never their `private/` key directories: bubblewrap maps the sandbox's
 * user to whoever started it, so a sandbox started by root would read root's keys as their owner.
 */
const HOST_ETC = [
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/host.conf",
  "/etc/gai.conf",
  "/etc/nsswitch.conf",
  "/etc/ssl/certs",
  "/etc/ssl/cert.pem",
  "/etc/ssl/openssl.cnf",
  "/etc/ca-certificates",
  "/etc/ca-certificates.conf",
  "/etc/pki/ca-trust",
  "/etc/pki/tls/certs",
  "/etc/pki/tls/cert.pem",
  "/etc/pki/tls/openssl.cnf",
  "/etc/alternatives",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/gitconfig",
  "/etc/fonts",
  "/etc/chromium",
  "/etc/chromium.d",
  "/etc/mime.types",
  "/etc/protocols",
  "/etc/services",
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/python3",
  "/etc/python3.11",
  "/etc/ssh/ssh_config",
];

/** Top-level system directories; symlinks (merged-/usr systems) are recreated as symlinks. */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

export interface BwrapMounts {
  /** Host directory bound read-write at /workspace. */
  readonly workspaceDir: string;
  /** Host directory bound read-write at /home/sandbox. */
  readonly homeDir: string;
  /** Host files for the sandbox's /etc/passwd and /etc/group (so git and ssh know the user). */
  readonly passwdFile: string;
  readonly groupFile: string;
  /** Host Node binary, bound at /opt/lookout/bin/node. */
  readonly nodeBin: string;
  /** Host opencode binary, bound at /opt/lookout/opencode; skipped when absent. */
  readonly opencodeBin: string | undefined;
  /** Host bridge bundle, bound at /opt/lookout/bridge.mjs; skipped when absent. */
  readonly bridgeBundle: string | undefined;
  /** Host execute-only copy of the Node binary, bound at `SANDBOX_PATHS.bridgeNode`. */
  readonly bridgeNodeBin: string;
  /** Host path of the gateway's relay socket, bound at `SANDBOX_PATHS.uplinkSocket`. */
  readonly uplinkSocket: string;
  /**
   * The prepared OpenCode config directory (`prepareOpencodeConfig`), bound read-only at
   * `SANDBOX_PATHS.opencodeConfig` inside the home; skipped when absent (OpenCode then installs
   * its packages itself, from the registry).
   */
  readonly opencodeConfigDir?: string | undefined;
}

/**
 * The bubblewrap argv for one sandbox. Every namespace is unshared, the network included: the
 * sandbox has a loopback interface and nothing else, so no host listener (the Worker's inspector,
 * the offline model, other sandboxes) and no private address is reachable. Its one way out is the
 * gateway's relay socket, bound in as a file. The process dies with the gateway and gets its own
 * session so it cannot reach the gateway's terminal.
 */
export function bwrapArgs(mounts: BwrapMounts, command: readonly string[]): string[] {
  const args = [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--uid",
    String(SANDBOX_UID),
    "--gid",
    String(SANDBOX_UID),
    "--hostname",
    "lookout-sandbox",
  ];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    const stat = lstatSync(dir);
    if (stat.isSymbolicLink()) {
      // On merged-/usr systems /bin is `usr/bin`: recreate the link, the target is bound anyway.
      args.push("--symlink", readlinkSync(dir), dir);
    } else {
      args.push("--ro-bind", dir, dir);
    }
  }
  for (const path of HOST_ETC) args.push("--ro-bind-try", path, path);
  args.push("--ro-bind", mounts.passwdFile, "/etc/passwd", "--ro-bind", mounts.groupFile, "/etc/group");
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run");
  args.push("--bind", mounts.workspaceDir, SANDBOX_PATHS.workspace, "--bind", mounts.homeDir, SANDBOX_PATHS.home);
  // After the home: one shared read-only copy for every sandbox, over the home's own directory.
  if (mounts.opencodeConfigDir) args.push("--ro-bind", mounts.opencodeConfigDir, SANDBOX_PATHS.opencodeConfig);
  args.push("--ro-bind", mounts.nodeBin, SANDBOX_PATHS.node);
  args.push("--ro-bind", mounts.bridgeNodeBin, SANDBOX_PATHS.bridgeNode);
  args.push("--bind", mounts.uplinkSocket, SANDBOX_PATHS.uplinkSocket);
  if (mounts.opencodeBin) {
    args.push("--ro-bind", mounts.opencodeBin, SANDBOX_PATHS.opencode);
    args.push("--ro-bind", mounts.opencodeBin, SANDBOX_PATHS.opencodeOnPath);
  }
  if (mounts.bridgeBundle) args.push("--ro-bind", mounts.bridgeBundle, SANDBOX_PATHS.bridge);
  args.push("--chdir", SANDBOX_PATHS.workspace, "--", ...command);
  return args;
}

/** Writes the sandbox's /etc/passwd and /etc/group (bound read-only), so git and ssh know its user. */
export function writeIdentityFiles(passwdFile: string, groupFile: string): void {
  const uid = SANDBOX_UID;
  const passwd = `root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:${uid}:${uid}:Lookout sandbox:${SANDBOX_PATHS.home}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`;
  const group = `root:x:0:\nsandbox:x:${uid}:\nnogroup:x:65534:\n`;
  writeFileSync(passwdFile, passwd, { mode: 0o644 });
  writeFileSync(groupFile, group, { mode: 0o644 });
}

export const BWRAP_INSTALL_HINT =
  "The local sandbox provider needs bubblewrap. Install it with `apt-get install bubblewrap` " +
  "(or your distribution's package), or set LOOKOUT_UNSAFE_NO_SANDBOX=1 to run sandboxes " +
  "without isolation for development only.";

export interface BwrapProbe {
  readonly ok: boolean;
  /** Why bubblewrap cannot be used, when `ok` is false. */
  readonly problem?: string;
}

/**
 * Checks that bubblewrap exists and can create the namespaces we ask for (it can be installed but
 * unusable, e.g. when unprivileged user namespaces are disabled).
 */
export function probeBubblewrap(bwrapPath: string): BwrapProbe {
  if (!existsSync(bwrapPath)) return { ok: false, problem: `${bwrapPath} does not exist` };
  const args = ["--unshare-all", "--die-with-parent", "--new-session"];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else args.push("--ro-bind", dir, dir);
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--", "true");
  const result = spawnSync(bwrapPath, args, { encoding: "utf8", timeout: 10_000 });
  if (result.error) return { ok: false, problem: result.error.message };
  if (result.status !== 0) return { ok: false, problem: result.stderr.trim() || `exit status ${result.status}` };
  return { ok: true };
}
