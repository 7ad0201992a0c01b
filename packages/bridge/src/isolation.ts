import { execFile, spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { lchown } from "node:fs/promises";
import { promisify } from "node:util";
import { BRIDGE_ENV, type AgentIsolationMode } from "@lookout/protocol";

/**
 * How the agent is kept away from the bridge's credentials (the sandbox token above all). The
 * bridge holds the token in its own memory only; what differs per provider is what stops the
 * agent's processes from reading that memory:
 *
 * - `non-dumpable` (local bubblewrap sandboxes, one uid for everything): the provider runs the
 *   bridge on an execute-only copy of Node. Executing a file its user cannot read makes the kernel
 *   mark the process non-dumpable, and then processes of the same uid get EACCES on its
 *   `/proc/<pid>/environ`, `mem` and `fd`, and cannot ptrace it.
 * - `separate-user` (image sandboxes): the bridge runs as root and starts OpenCode, and with it
 *   every tool of the agent, as the image's unprivileged user; root's `/proc` entries are closed to it.
 * - `none`: nothing keeps them apart (the unsandboxed development mode); said loudly in the log.
 */

/** A user the agent runs as. */
export interface AgentUser {
  uid: number;
  gid: number;
  /** The name in the passwd database, when there is an entry. */
  name: string | undefined;
}

/** What the bridge finds out about its own process and system before choosing. */
export interface IsolationFacts {
  /** The bridge's effective uid. */
  bridgeUid: number;
  /** Whether the bridge's user can read its own executable (if not, exec makes the process non-dumpable). */
  executableReadable: boolean;
  /** Whether a process of the bridge's uid can open the bridge's `/proc/<pid>/environ`: what `non-dumpable` must rule out. */
  procReadable: boolean;
  /** The executable, for messages. */
  executable: string;
  /** `LOOKOUT_AGENT_USER` as configured, for messages. */
  agentUserSpec: string;
  /** That user resolved through the passwd database (or as given by number). */
  agentUser: AgentUser | undefined;
}

export type IsolationPlan = { mode: "separate-user"; agentUser: AgentUser } | { mode: "non-dumpable" } | { mode: "none"; why: string };

export class IsolationError extends Error {
  override readonly name = "IsolationError";
}

/**
 * Chooses the isolation: the one the provider asked for, which must hold (an `IsolationError`
 * says why it does not), or with none asked for, the strongest that holds.
 */
export function planIsolation(requested: AgentIsolationMode | undefined, facts: IsolationFacts): IsolationPlan {
  const separateUser = separateUserCheck(facts);
  const nonDumpable = nonDumpableProblem(facts);
  switch (requested) {
    case "separate-user":
      if ("problem" in separateUser)
        throw new IsolationError(`${BRIDGE_ENV.agentIsolation}=separate-user does not hold: ${separateUser.problem}.`);
      return { mode: "separate-user", agentUser: separateUser.user };
    case "non-dumpable":
      if (nonDumpable) throw new IsolationError(`${BRIDGE_ENV.agentIsolation}=non-dumpable does not hold: ${nonDumpable}.`);
      return { mode: "non-dumpable" };
    case "none":
      return { mode: "none", why: `the provider chose ${BRIDGE_ENV.agentIsolation}=none` };
    case undefined:
      if ("user" in separateUser) return { mode: "separate-user", agentUser: separateUser.user };
      if (!nonDumpable) return { mode: "non-dumpable" };
      return { mode: "none", why: `neither holds: ${separateUser.problem}; and ${nonDumpable}` };
  }
}

function separateUserCheck(facts: IsolationFacts): { user: AgentUser } | { problem: string } {
  if (facts.bridgeUid !== 0)
    return { problem: `the bridge runs as uid ${facts.bridgeUid}, not as root, so it cannot start OpenCode as another user` };
  if (!facts.agentUser)
    return { problem: `there is no user ${JSON.stringify(facts.agentUserSpec)} (${BRIDGE_ENV.agentUser}) to run OpenCode as` };
  if (facts.agentUser.uid === 0) return { problem: `${BRIDGE_ENV.agentUser}=${facts.agentUserSpec} is root` };
  return { user: facts.agentUser };
}

function nonDumpableProblem(facts: IsolationFacts): string | undefined {
  if (facts.bridgeUid === 0) return "the bridge runs as root, and so would the agent";
  if (facts.executableReadable)
    return `the bridge's executable ${facts.executable} is readable by its user, so the kernel leaves the bridge dumpable (run it on an execute-only copy, mode 0111)`;
  if (facts.procReadable) return "a process of the bridge's uid can still open the bridge's /proc/<pid>/environ";
  return undefined;
}

/** Whether this process's executable is readable by its own user. */
export function executableReadable(): boolean {
  try {
    accessSync(process.execPath, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether another process of this uid can open this process's `/proc/<pid>/environ`, tried for
 * real by a child shell: that is what a non-dumpable process refuses, whatever made it so.
 */
export function procReadableBySameUid(): boolean {
  // An empty environment: this may run before the token has left the bridge's own.
  const attempt = spawnSync("/bin/sh", ["-c", 'exec < "$1"', "sh", `/proc/${process.pid}/environ`], {
    stdio: "ignore",
    env: {},
    timeout: 10_000,
  });
  return attempt.status === 0;
}

/** The facts of this process: its uid, whether it is dumpable and why, and the agent user. */
export function isolationFacts(agentUserSpec: string, passwdPath = "/etc/passwd"): IsolationFacts {
  const executable = process.execPath;
  let passwd = "";
  try {
    passwd = readFileSync(passwdPath, "utf8");
  } catch {
    // No passwd database: only a numeric LOOKOUT_AGENT_USER resolves.
  }
  return {
    bridgeUid: process.geteuid?.() ?? -1,
    executableReadable: executableReadable(),
    procReadable: procReadableBySameUid(),
    executable,
    agentUserSpec,
    agentUser: resolveAgentUser(agentUserSpec, passwd),
  };
}

/**
 * Resolves `LOOKOUT_AGENT_USER` against a passwd file's text: a name must have an entry; a uid
 * (`1000`) takes the entry's group if there is one, else the same number; `uid:gid` is taken as is.
 */
export function resolveAgentUser(spec: string, passwd: string): AgentUser | undefined {
  const entries = passwd
    .split("\n")
    .map((line) => line.split(":"))
    .filter((fields) => fields.length >= 4 && /^\d+$/.test(fields[2] ?? "") && /^\d+$/.test(fields[3] ?? ""))
    .map((fields) => ({ name: fields[0] ?? "", uid: Number(fields[2]), gid: Number(fields[3]) }));
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]);
    const entry = entries.find((e) => e.uid === uid);
    const gid = numeric[2] !== undefined ? Number(numeric[2]) : (entry?.gid ?? uid);
    return { uid, gid, name: entry?.name };
  }
  const entry = entries.find((e) => e.name === spec);
  return entry ? { uid: entry.uid, gid: entry.gid, name: entry.name } : undefined;
}

const execFileAsync = promisify(execFile);

/**
 * Gives a tree to the agent's user. Only called while no process of the agent runs (before
 * OpenCode starts), so nothing can swap a directory for a symbolic link under it; `chown -R`
 * changes links themselves and never follows them anyway.
 */
export async function giveTree(path: string, user: AgentUser): Promise<void> {
  await execFileAsync("chown", ["-R", `${user.uid}:${user.gid}`, "--", path]);
}

/** Gives single paths (not their contents) to the agent's user, without following links. */
export async function givePaths(paths: readonly string[], user: AgentUser): Promise<void> {
  for (const path of paths) await lchown(path, user.uid, user.gid);
}
