import { readdirSync, readFileSync } from "node:fs";

/** How long the members of a killed group get to disappear. */
const GROUP_EXIT_TIMEOUT_MS = 5_000;
const GROUP_POLL_INTERVAL_MS = 50;

/** Sends a signal to a process (or, for a negative PID, its group); one already gone is fine. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/**
 * Whether any process of group `pgid` still runs. Read from /proc where there is one, because a
 * zombie (dead, waiting for a parent that may never reap it) still counts as a member for `kill`.
 */
function groupRuns(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // After the command name (in parentheses, may hold spaces): state, ppid, pgrp, …
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , group] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(group) === pgid && state !== "Z" && state !== "X") return true;
    } catch {
      // Exited while we looked.
    }
  }
  return false;
}

/** Kills every process left in group `pgid` and waits until none runs (or the timeout passes). */
export async function killGroup(pgid: number): Promise<void> {
  signal(-pgid, "SIGKILL");
  const deadline = Date.now() + GROUP_EXIT_TIMEOUT_MS;
  while (groupRuns(pgid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, GROUP_POLL_INTERVAL_MS));
}
