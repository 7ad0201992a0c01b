import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LookoutError } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyWranglerConfig, freePort, type RunningWorker, startWorker, type WorkerOptions } from "../src/index.ts";

const FIXTURE_CONFIG = fileURLToPath(new URL("./fixtures/worker/wrangler.toml", import.meta.url));
const DEVTOOLS_PROBE_TIMEOUT_MS = 5_000;
/** How long a Worker whose parent died may take to notice and dispose workerd. */
const ORPHAN_EXIT_TIMEOUT_MS = 30_000;

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface ProcessEntry {
  pid: number;
  pgid: number;
}

/** Every live process with its process group (zombies left out: they hold nothing). */
function processes(): ProcessEntry[] {
  const found: ProcessEntry[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // After the command name (in parentheses, may hold spaces): state, ppid, pgrp, …
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (fields[0] !== "Z") found.push({ pid: Number(entry), pgid: Number(fields[2]) });
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** The TCP ports a process listens on (its socket inodes looked up in its network namespace's tables). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket) inodes.add(socket[1]!);
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A" && inodes.has(fields[9] ?? "")) ports.push(Number.parseInt(fields[1]?.split(":")[1] ?? "", 16));
    }
  }
  return ports;
}

async function answersAsInspector(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/json/version`, { signal: AbortSignal.timeout(DEVTOOLS_PROBE_TIMEOUT_MS) });
    return response.ok && /"Protocol-Version"/.test(await response.text());
  } catch {
    return false; // Not HTTP, or it hung up: not an inspector.
  }
}

describe("startWorker", () => {
  let workDir: string;
  let config: string;

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "lookout-dev-stack-"));
    config = copyWranglerConfig(FIXTURE_CONFIG, workDir);
  });

  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  describe("a started Worker", () => {
    let worker: RunningWorker;
    let group: number[];

    beforeAll(async () => {
      worker = await startWorker({
        name: "fixture",
        config,
        persistTo: join(workDir, "state"),
        port: await freePort(),
        vars: { GREETING: "from the options" },
        secrets: { TOKEN: "a secret" },
        migrateD1: ["DB"],
        readyPath: "/health",
        logFile: join(workDir, "worker.log"),
      });
      group = processes()
        .filter((entry) => entry.pgid === worker.pid)
        .map((entry) => entry.pid);
    });

    afterAll(async () => {
      await worker?.stop();
    });

    it("serves with its D1 migrations applied, its variables over the config's and its secrets", async () => {
      const probe = await fetch(`${worker.url}/probe`);
      expect(await probe.json()).toEqual({ greeting: "from the options", token: "a secret", rows: ["migrated"] });
    });

    it("keeps secrets out of its command line and environment", () => {
      for (const pid of group) {
        expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain("a secret");
        expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain("a secret");
      }
    });

    it("opens no DevTools inspector on any port its processes listen on", async () => {
      const ports = group.flatMap(listeningPorts);
      // The scan sees the Worker's own listener, so an inspector among them could not hide.
      expect(ports).toContain(Number(new URL(worker.url).port));
      const inspectors: number[] = [];
      for (const port of ports) if (await answersAsInspector(port)) inspectors.push(port);
      expect(inspectors).toEqual([]);
    });

    it("writes what it printed to its log file", () => {
      expect(readFileSync(join(workDir, "worker.log"), "utf8")).toMatch(/ready on http:\/\/127\.0\.0\.1:\d+\/ \(no inspector\)/);
    });

    it("leaves no process of its group behind once stopped", async () => {
      // workerd runs in the Worker's process group, next to the process started for it.
      expect(group.length).toBeGreaterThan(1);
      await worker.stop();
      expect(processes().filter((entry) => entry.pgid === worker.pid)).toEqual([]);
      await expect(fetch(`${worker.url}/health`)).rejects.toThrow();
    });
  });

  it("stops the Worker when the program that started it dies without stopping it", async () => {
    // A program that starts a Worker, prints its PID, and is then killed before it can clean up.
    const program = join(workDir, "parent.mts");
    const index = pathToFileURL(fileURLToPath(new URL("../src/index.ts", import.meta.url))).href;
    writeFileSync(
      program,
      [
        `import { freePort, startWorker } from ${JSON.stringify(index)};`,
        `const worker = await startWorker({ name: "orphan", config: ${JSON.stringify(config)}, persistTo: ${JSON.stringify(join(workDir, "orphan-state"))}, port: await freePort(), readyPath: "/health" });`,
        "process.stdout.write(`${worker.pid}\\n`);",
        "setInterval(() => {}, 1000);",
        "",
      ].join("\n"),
    );
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const parent = spawn(process.execPath, ["--import", tsx, program], { stdio: ["ignore", "pipe", "inherit"] });
    const workerPid = await new Promise<number>((resolve, reject) => {
      parent.stdout.on("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      parent.once("exit", (code) => reject(new Error(`the parent exited (${code}) before the Worker served`)));
    });
    try {
      expect(processes().filter((entry) => entry.pgid === workerPid).length).toBeGreaterThan(1);
      parent.kill("SIGKILL");
      await waitFor("the orphaned Worker's exit", () => !processes().some((entry) => entry.pgid === workerPid), ORPHAN_EXIT_TIMEOUT_MS);
    } finally {
      parent.kill("SIGKILL");
      if (processes().some((entry) => entry.pgid === workerPid)) process.kill(-workerPid, "SIGKILL");
    }
  });

  it.each<[string, Partial<WorkerOptions>]>([
    ["a port out of range", { port: 70_000 }],
    ["a variable name wrangler would refuse", { vars: { "NOT-A-NAME": "x" } }],
    ["a name that is both a variable and a secret", { vars: { TOKEN: "x" }, secrets: { TOKEN: "y" } }],
    ["a missing config", { config: join(tmpdir(), "no-such-dir", "wrangler.toml") }],
    ["a ready path without its slash", { readyPath: "health" }],
  ])("refuses %s before starting anything", async (_label, override) => {
    const logFile = join(workDir, `refused-${Math.random().toString(36).slice(2)}.log`);
    const started = startWorker({
      name: "refused",
      config,
      persistTo: join(workDir, "refused-state"),
      port: 1,
      readyPath: "/health",
      migrateD1: ["DB"],
      logFile,
      ...override,
    });
    await expect(started).rejects.toThrow(LookoutError);
    await expect(started).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    // Nothing ran: no log, no migrated state.
    expect(existsSync(logFile)).toBe(false);
    expect(existsSync(join(workDir, "refused-state"))).toBe(false);
  });
});
