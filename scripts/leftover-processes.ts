/**
 * The processes a test run leaves behind, found however they were started (`scripts/test.ts`).
 *
 * An environment marker alone is not enough: sandboxes get a clean environment, and a process that
 * starts a session of its own and outlives its parent no longer looks like the run's. So the run
 * snapshots the process table when it starts, looks at it again every half second while it runs,
 * and at the end counts as left behind any process started during the run that
 *
 * 1. `marker`: carries the run's environment marker;
 * 2. `seen-in-run`: was seen below the run's own process at one of those looks;
 * 3. `run-session`: is in a session or process group that a process of the run started;
 * 4. `watched-program`: is one of `WATCHED_PROGRAMS` that no other program holds (its parents,
 *    past others of its kind, lead to init or to the run's own ancestors, where orphans land);
 * 5. `under-a-leftover`: descends from a process the rules above found.
 *
 * Processes older than the run are never counted, and neither are watched programs held by another
 * program, so a second test run on the same machine is left alone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Programs the tests start that must never outlive them, even started with a clean environment. */
export const WATCHED_PROGRAMS: ReadonlySet<string> = new Set(["bwrap", "workerd", "opencode", "git-http-backend"]);

export const LEFTOVER_RULES = ["marker", "seen-in-run", "run-session", "watched-program", "under-a-leftover"] as const;
export type LeftoverRule = (typeof LEFTOVER_RULES)[number];

/** How often the run's process tree is looked at while it runs. */
const OBSERVE_INTERVAL_MS = 500;
/** How long the self-test waits for its decoys to reach the state they are meant to be found in. */
const DECOY_SETTLE_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 50;

interface ProcessEntry {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  state: string;
  /** Clock ticks after boot; with the PID it names one process even after the PID is reused. */
  startTicks: number;
  /** The kernel's name for it: the executable's file name (first 15 bytes). */
  name: string;
}

export interface Leftover {
  pid: number;
  startTicks: number;
  name: string;
  command: string;
  rule: LeftoverRule;
}

const identity = (entry: { pid: number; startTicks: number }) => `${entry.pid}@${entry.startTicks}`;

function readEntry(pid: number): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    // After the name (in parentheses, may hold spaces): state ppid pgrp session … starttime is field 22.
    const fields = stat.slice(close + 2).split(" ");
    return {
      pid,
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      sid: Number(fields[3]),
      state: fields[0] ?? "?",
      startTicks: Number(fields[19]),
      name: stat.slice(stat.indexOf("(") + 1, close),
    };
  } catch {
    return undefined; // Exited while we looked.
  }
}

function processTable(): Map<number, ProcessEntry> {
  const table = new Map<number, ProcessEntry>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const entry = readEntry(Number(name));
    if (entry) table.set(entry.pid, entry);
  }
  return table;
}

function commandOf(pid: number, fallback: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ") || fallback;
  } catch {
    return fallback;
  }
}

/** The value of `name` in a process's environment, or undefined (not set, or not readable). */
function environmentValue(pid: number, name: string): string | undefined {
  try {
    const prefix = `${name}=`;
    return readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .find((entry) => entry.startsWith(prefix))
      ?.slice(prefix.length);
  } catch {
    return undefined;
  }
}

const gone = (entry: ProcessEntry | undefined) => !entry || entry.state === "Z" || entry.state === "X";

/** What one test run started, watched from its first moment to its end (Linux: reads /proc). */
export class RunProcesses {
  private readonly self: ProcessEntry;
  private readonly before: Set<string>;
  /** The run's own ancestors: where its orphans are re-parented (init, or a subreaper among them). */
  private readonly ancestors = new Set<number>();
  private readonly seenInRun = new Set<string>();
  /** PIDs of the run's processes; a session or group with such an ID was started by the run. */
  private readonly runLeaders = new Set<number>();
  /** Watched programs seen held by a program outside the run (another engineer's tests). */
  private readonly foreign = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly marker: { name: string; value: string }) {
    const table = processTable();
    const self = table.get(process.pid);
    if (!self) throw new Error("cannot read this process in /proc");
    this.self = self;
    this.before = new Set([...table.values()].map(identity));
    for (let parent = table.get(self.ppid); parent; parent = table.get(parent.ppid)) {
      this.ancestors.add(parent.pid);
      if (parent.pid === 1) break;
    }
    this.ancestors.add(1);
    this.runLeaders.add(self.pid);
  }

  /** Records a process this run started itself (it may exit before any look sees it). */
  adopt(pid: number | undefined): void {
    if (pid === undefined) return;
    this.runLeaders.add(pid);
    const entry = readEntry(pid);
    if (entry) this.seenInRun.add(identity(entry));
  }

  /** Looks every half second until `stop`. */
  start(): void {
    this.timer ??= setInterval(() => this.observe(), OBSERVE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look: which processes are below the run now, and which watched programs others hold. */
  observe(table = processTable()): void {
    const children = new Map<number, ProcessEntry[]>();
    for (const entry of table.values()) children.set(entry.ppid, [...(children.get(entry.ppid) ?? []), entry]);
    const below = new Set<number>();
    const pending = [...(children.get(this.self.pid) ?? [])];
    for (let entry = pending.pop(); entry; entry = pending.pop()) {
      below.add(entry.pid);
      this.seenInRun.add(identity(entry));
      this.runLeaders.add(entry.pid);
      pending.push(...(children.get(entry.pid) ?? []));
    }
    for (const entry of table.values()) {
      if (below.has(entry.pid) || !this.isNewWatched(entry)) continue;
      const holder = this.holderOf(entry, table);
      if (holder && !this.seenInRun.has(identity(holder)) && !this.isWhereOrphansLand(holder.pid)) this.foreign.add(identity(entry));
    }
  }

  /** Every live process the run left behind, with the first rule that finds it. */
  find(): Leftover[] {
    const table = processTable();
    this.observe(table);
    const found = new Map<number, LeftoverRule>();
    const candidates = [...table.values()].filter(
      (entry) => entry.pid !== this.self.pid && !this.ancestors.has(entry.pid) && !gone(entry) && entry.ppid !== 2 && this.isNew(entry),
    );
    for (const entry of candidates) {
      const rule = this.ruleFor(entry, table);
      if (rule) found.set(entry.pid, rule);
    }
    for (const entry of candidates) {
      if (found.has(entry.pid)) continue;
      for (let parent = table.get(entry.ppid); parent && parent.pid > 1; parent = table.get(parent.ppid)) {
        if (found.has(parent.pid) || parent.pid === this.self.pid) {
          found.set(entry.pid, "under-a-leftover");
          break;
        }
      }
    }
    return [...found].map(([pid, rule]) => {
      const entry = table.get(pid)!;
      return { pid, startTicks: entry.startTicks, name: entry.name, command: commandOf(pid, entry.name), rule };
    });
  }

  private ruleFor(entry: ProcessEntry, table: Map<number, ProcessEntry>): LeftoverRule | undefined {
    const marked = environmentValue(entry.pid, this.marker.name);
    if (marked === this.marker.value) return "marker";
    if (this.seenInRun.has(identity(entry))) return "seen-in-run";
    if (this.startedByRun(entry.sid, table) || this.startedByRun(entry.pgid, table)) return "run-session";
    // A watched program carrying another run's marker belongs to that run, which checks it itself.
    if (!this.isNewWatched(entry) || this.foreign.has(identity(entry)) || marked !== undefined) return undefined;
    const holder = this.holderOf(entry, table);
    if (!holder || this.isWhereOrphansLand(holder.pid)) return "watched-program";
    return undefined;
  }

  /** Whether a session or group ID names one the run started (its leader, if still alive, is the run's). */
  private startedByRun(id: number, table: Map<number, ProcessEntry>): boolean {
    if (!this.runLeaders.has(id)) return false;
    const leader = table.get(id);
    return !leader || leader.pid === this.self.pid || this.seenInRun.has(identity(leader));
  }

  private isNew(entry: ProcessEntry): boolean {
    return !this.before.has(identity(entry)) && entry.startTicks >= this.self.startTicks;
  }

  private isNewWatched(entry: ProcessEntry): boolean {
    return WATCHED_PROGRAMS.has(entry.name) && this.isNew(entry) && !gone(entry);
  }

  /** The first ancestor that is not itself a new watched program (bwrap runs as two processes, for one). */
  private holderOf(entry: ProcessEntry, table: Map<number, ProcessEntry>): ProcessEntry | undefined {
    let parent = table.get(entry.ppid);
    while (parent && this.isNewWatched(parent)) parent = table.get(parent.ppid);
    return parent;
  }

  private isWhereOrphansLand(pid: number): boolean {
    return pid === this.self.pid || this.ancestors.has(pid);
  }
}

/** SIGTERM to each process, then SIGKILL to any still running after `graceMs`; a reused PID is never signalled. */
export async function stopProcesses(processes: readonly { pid: number; startTicks: number }[], graceMs: number): Promise<void> {
  const running = () => processes.filter((process) => sameProcessRuns(process));
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  };
  for (const { pid } of running()) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (running().length > 0 && Date.now() < deadline) await pause(POLL_INTERVAL_MS);
  for (const { pid } of running()) signal(pid, "SIGKILL");
  const killDeadline = Date.now() + graceMs;
  while (running().length > 0 && Date.now() < killDeadline) await pause(POLL_INTERVAL_MS);
}

function sameProcessRuns(target: { pid: number; startTicks: number }): boolean {
  const entry = readEntry(target.pid);
  return !gone(entry) && entry?.startTicks === target.startTicks;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition` holds, or fails after the deadline. */
async function settle(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + DECOY_SETTLE_TIMEOUT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${DECOY_SETTLE_TIMEOUT_MS / 1000}s`);
    await pause(POLL_INTERVAL_MS);
  }
}

/** Runs `sh -c script` in a new session and reads the PIDs it prints, one a line. */
async function decoy(
  script: string,
  env: NodeJS.ProcessEnv,
  pids: number,
  args: string[] = [],
): Promise<{ starter: ChildProcess; pids: number[] }> {
  const starter = spawn("sh", ["-c", script, ...args], { env, stdio: ["ignore", "pipe", "ignore"], detached: true });
  const printed: number[] = [];
  let text = "";
  starter.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
    // Whole lines only: a PID may arrive in pieces.
    printed.splice(0, printed.length, ...text.split("\n").slice(0, -1).filter(Boolean).map(Number));
  });
  await settle(`the decoy ${JSON.stringify(script)} printing ${pids} PIDs`, () => printed.length >= pids);
  starter.stdout?.destroy();
  return { starter, pids: printed.slice(0, pids) };
}

const exitOf = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once("exit", () => resolve()));

/**
 * Proves each rule still finds what it is for: starts one decoy per rule, each a `sleep` in a
 * session of its own with a scrubbed environment (but for the marker's decoy) that outlives the
 * shell that started it, checks that `find` names it under that rule, then stops them all through
 * `stopProcesses`. Returns the rules that missed their decoy (and "stop" if a decoy survived). The
 * decoys sleep a minute, so even an interrupted proof leaves nothing for long.
 */
export async function proveLeftoverRules(watch: RunProcesses, marker: { name: string; value: string }): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "lookout-leftover-proof-"));
  const scrubbed = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  const expected = new Map<number, LeftoverRule>();
  const starters: ChildProcess[] = [];
  /** Each decoy as it was when it printed its PID, so cleaning up never signals a reused PID. */
  const decoys: { pid: number; startTicks: number }[] = [];
  const expect = (pid: number, rule: LeftoverRule) => {
    expected.set(pid, rule);
    const entry = readEntry(pid);
    if (entry) decoys.push(entry);
  };
  try {
    // seen-in-run: looked at while below the run, then orphaned by killing its parent.
    const seen = await decoy("setsid sleep 60 >/dev/null 2>&1 & echo $!; exec sleep 60", scrubbed, 1);
    starters.push(seen.starter);
    const seenPid = seen.pids[0]!;
    await settle("the decoy's setsid", () => {
      const entry = readEntry(seenPid);
      return entry?.sid === seenPid && entry.name === "sleep";
    });
    watch.observe();
    seen.starter.kill("SIGKILL");
    await exitOf(seen.starter);
    expect(seenPid, "seen-in-run");

    // marker: orphaned at once, in a session of its own, but carrying the marker.
    const marked = await decoy("setsid sleep 60 >/dev/null 2>&1 & echo $!", { ...scrubbed, [marker.name]: marker.value }, 1);
    starters.push(marked.starter);
    expect(marked.pids[0]!, "marker");

    // run-session: orphaned at once, left in the session of a shell the run started.
    const session = await decoy("sleep 60 >/dev/null 2>&1 & echo $!", scrubbed, 1);
    watch.adopt(session.starter.pid);
    starters.push(session.starter);
    expect(session.pids[0]!, "run-session");

    // watched-program, under-a-leftover: an "opencode" (a script of that name) orphaned at once, in
    // a session of its own, with a child in yet another session.
    const opencode = join(dir, "opencode");
    writeFileSync(opencode, "#!/bin/sh\nsetsid sleep 60 >/dev/null 2>&1 &\necho $!\nexec >/dev/null\nwait\n");
    chmodSync(opencode, 0o755);
    const watched = await decoy('setsid "$0" & echo $!', scrubbed, 2, [opencode]);
    starters.push(watched.starter);
    for (const pid of watched.pids) expect(pid, readEntry(pid)?.name === "opencode" ? "watched-program" : "under-a-leftover");

    await Promise.all(starters.map(exitOf));
    const found = new Map(watch.find().map((leftover) => [leftover.pid, leftover]));
    const missed = new Set([...expected].filter(([pid, rule]) => found.get(pid)?.rule !== rule).map(([, rule]) => rule));
    // Stopped the way the check stops what it finds: what it found of them, and only that.
    const foundDecoys = [...expected.keys()].flatMap((pid) => found.get(pid) ?? []);
    await stopProcesses(foundDecoys, DECOY_SETTLE_TIMEOUT_MS);
    const unproven: string[] = LEFTOVER_RULES.filter((rule) => missed.has(rule));
    if (foundDecoys.some(sameProcessRuns)) unproven.push("stop");
    return unproven;
  } finally {
    for (const starter of starters) if (starter.exitCode === null && starter.signalCode === null) starter.kill("SIGKILL");
    for (const decoy of decoys) if (sameProcessRuns(decoy)) process.kill(decoy.pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
