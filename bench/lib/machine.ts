import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";

/** Where and when numbers were measured; every result is meaningless without it. */
export interface Machine {
  date: string;
  uname: string;
  cpuModel: string;
  cores: number;
  node: string;
  /** 1-minute load average when the run started: other work on the machine skews every number. */
  loadAverage: number;
  /** Where the servers keep their SQLite files, with its filesystem type (a disk's fsync dominates writes). */
  storage: string;
}

export function describeMachine(workDir: string): Machine {
  const processors = cpus();
  const filesystem = execFileSync("stat", ["-f", "-c", "%T", workDir], { encoding: "utf8" }).trim();
  return {
    date: new Date().toISOString(),
    uname: execFileSync("uname", ["-a"], { encoding: "utf8" }).trim(),
    cpuModel: processors[0]?.model.trim() ?? "unknown",
    cores: processors.length,
    node: process.version,
    loadAverage: loadavg()[0] ?? Number.NaN,
    storage: `${dirname(workDir)} (${filesystem})`,
  };
}

export function renderMachine(machine: Machine): string {
  return [
    `- Date: ${machine.date}`,
    `- Machine: \`${machine.uname}\``,
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores`,
    `- Node: ${machine.node}`,
    `- Load average (1 min) at start: ${machine.loadAverage.toFixed(2)}`,
    `- Server state: ${machine.storage}`,
  ].join("\n");
}
