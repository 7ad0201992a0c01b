// Runs inside a sandbox as the agent does (through OpenCode's bash tool) and looks for the sandbox
// token everywhere its user can read: every process's environment and command line, the writable
// memory of every process whose `mem` it can open, and every file under the given directories.
// Plain Node (type stripping only), no imports but Node's.
//
// Usage: node --no-warnings token-probe.ts <token, reversed, as hex> <dir>[,<dir>...]
// A directory ending in `*` stands for every directory beside it whose name starts so.
// The token arrives reversed so that no command line, and no model request, ever holds it. This
// process holds it (it has to, to look for it) and skips itself.
// Prints one line: `TOKEN-PROBE <json>`.
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";

interface Report {
  uid: number;
  found: string[];
  counts: { environ: number; cmdline: number; mem: number; memBytes: number; files: number };
  /** The bridge's processes (`node …/bridge.mjs`) and what opening their files gave. */
  bridges: Array<{ pid: number; uid: number | undefined; environ: string; mem: string; cmdlineHasToken: boolean }>;
}

const [reversedHex = "", dirList = ""] = process.argv.slice(2);
const token = Buffer.from(Buffer.from(reversedHex, "hex").toString("latin1").split("").reverse().join(""), "latin1");
const self = String(process.pid);
const report: Report = {
  uid: process.getuid?.() ?? -1,
  found: [],
  counts: { environ: 0, cmdline: 0, mem: 0, memBytes: 0, files: 0 },
  bridges: [],
};

function errorCode(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : String(error);
}

function readOrCode(path: string): Buffer | string {
  try {
    return readFileSync(path);
  } catch (error) {
    return errorCode(error);
  }
}

/** Reads the writable private mappings (heap, stacks, arenas): where a secret lives in memory. */
function scanMemory(pid: string): string {
  let maps: string;
  let fd: number;
  try {
    maps = readFileSync(`/proc/${pid}/maps`, "utf8");
    fd = openSync(`/proc/${pid}/mem`, "r");
  } catch (error) {
    return errorCode(error);
  }
  report.counts.mem++;
  try {
    for (const line of maps.split("\n")) {
      const [range, perms, , , , name = ""] = line.trim().split(/\s+/);
      if (!range || !perms?.startsWith("rw") || name === "[vvar]" || name === "[vsyscall]") continue;
      const [from = 0, to = 0] = range.split("-").map((hex) => Number.parseInt(hex, 16));
      const chunk = 16 * 1024 * 1024;
      for (let at = from; at < to; at += chunk - token.length) {
        const buffer = Buffer.alloc(Math.min(chunk, to - at));
        let read = 0;
        try {
          read = readSync(fd, buffer, 0, buffer.length, at);
        } catch {
          break;
        }
        report.counts.memBytes += read;
        if (buffer.subarray(0, read).includes(token)) {
          report.found.push(`/proc/${pid}/mem`);
          return "read";
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return "read";
}

function scanProcesses(): void {
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry) && entry !== self)) {
    const cmdline = readOrCode(`/proc/${pid}/cmdline`);
    if (typeof cmdline !== "string") {
      report.counts.cmdline++;
      if (cmdline.includes(token)) report.found.push(`/proc/${pid}/cmdline`);
    }
    const environ = readOrCode(`/proc/${pid}/environ`);
    if (typeof environ !== "string") {
      report.counts.environ++;
      if (environ.includes(token)) report.found.push(`/proc/${pid}/environ`);
    }
    const mem = scanMemory(pid);
    // The bridge is `node …/bridge.mjs` (bubblewrap's own command line names it too, as an argument).
    if (typeof cmdline !== "string" && cmdline.toString("utf8").split("\0")[1]?.endsWith("bridge.mjs")) {
      let uid: number | undefined;
      try {
        uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
      } catch {
        uid = undefined;
      }
      report.bridges.push({
        pid: Number(pid),
        uid,
        environ: typeof environ === "string" ? environ : "read",
        mem,
        cmdlineHasToken: cmdline.includes(token),
      });
    }
  }
}

function scanFiles(root: string): void {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() ?? "";
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile()) {
        try {
          if (statSync(path).size > 256 * 1024 * 1024) continue;
          const content = readFileSync(path);
          report.counts.files++;
          if (content.includes(token)) report.found.push(path);
        } catch {
          // Unreadable to this user: nothing it can use.
        }
      }
    }
  }
}

if (token.length < 16) throw new Error("token-probe: no token given");
scanProcesses();
for (const dir of dirList.split(",").filter(Boolean)) {
  if (!dir.endsWith("*")) {
    scanFiles(dir);
    continue;
  }
  const prefix = basename(dir.slice(0, -1));
  let siblings: string[] = [];
  try {
    siblings = readdirSync(dirname(dir)).filter((name) => name.startsWith(prefix));
  } catch {
    siblings = [];
  }
  for (const name of siblings) scanFiles(join(dirname(dir), name));
}
process.stdout.write(`TOKEN-PROBE ${JSON.stringify(report)}\n`);
