import { readdirSync, readFileSync } from "node:fs";
import { findErrno } from "../errors";

/** Sends `signal` to the process group led by `pid`; a group that is already gone is what we wanted. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  signalOrIgnoreGone(-pid, signal);
}

/**
 * Signals a bubblewrap sandbox's process group, after killing bubblewrap's own children: each is
 * the init of the sandbox's PID namespace, and SIGKILL to it takes every process of the sandbox
 * with it.
 *
 * Signalling the group alone is not enough while bubblewrap is still setting up: with
 * `--new-session` its namespace init leaves the group before it forks the command, and it binds
 * itself to bubblewrap's life (`--die-with-parent`) only after that fork. A sandbox stopped in
 * between would lose bubblewrap and keep running, reparented to PID 1. Bubblewrap is stopped while
 * its children are listed, so it cannot start another one unseen; the group's `signal` lands before
 * it may continue.
 */
export function signalSandbox(bubblewrapPid: number, signal: NodeJS.Signals): void {
  killGroup(bubblewrapPid, "SIGSTOP");
  // A stopped bubblewrap reaps nothing, so none of these PIDs can be reused before the kill.
  for (const child of childrenOf(bubblewrapPid)) signalOrIgnoreGone(child, "SIGKILL");
  killGroup(bubblewrapPid, signal);
  killGroup(bubblewrapPid, "SIGCONT");
}

/**
 * The host PIDs whose parent is `pid`, from each process's `/proc/<pid>/stat` (the kernel's
 * `/proc/<pid>/task/<tid>/children` needs CONFIG_PROC_CHILDREN, which not every kernel has).
 */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      // The process exited while /proc was listed.
      continue;
    }
    // The command name is in parentheses and may hold spaces; the state, then the parent, follow the last ")".
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (parent === pid) children.push(Number(entry));
  }
  return children;
}

function signalOrIgnoreGone(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    // ESRCH: the process or group is already gone.
    if (findErrno(error) !== "ESRCH") throw error;
  }
}
