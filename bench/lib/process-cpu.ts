import { readdirSync, readFileSync } from "node:fs";

/** Linux's clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on every common kernel). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, in ms) used so far by every live process in process group `pgid`: a
 * Worker's process and its workerd. Unlike latency, this does not grow when other work on the
 * machine takes the cores, so it compares two servers' cost per event on a busy machine. Its
 * resolution is one clock tick (10 ms); read it over runs of thousands of events.
 */
export function processGroupCpuMs(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // The process exited while the list was read.
    }
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ")" do not.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15), so pgrp is fields[2], utime fields[11].
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}
