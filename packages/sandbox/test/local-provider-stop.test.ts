import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalProvider, type SandboxCreateConfig } from "../src/index";
import { isAlive, readIfExists, tempDir, waitFor } from "./helpers";

/**
 * Stopping a sandbox while bubblewrap is still setting it up. Between `--new-session` and
 * `--die-with-parent`, bubblewrap's namespace init is outside bubblewrap's process group and not
 * yet bound to its life; a sandbox stopped then must not keep running.
 */

/**
 * A stand-in for bubblewrap frozen in that moment: it starts the command in a session of its own
 * (as the namespace init does after `setsid`) with nothing tying the command to its own life. Like
 * bubblewrap it runs what follows `--`, so the provider's start-up probe (`-- true`) passes.
 */
const SETUP_STAGE_BWRAP = `#!/bin/sh
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
setsid "$@" &
wait
`;

let dataDir: string;
let uplinkSocket: string;

/** Every process whose command line names this test's data directory (real bubblewrap's do). */
function processesOfThisTest(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = readIfExistsQuietly(`/proc/${entry}/cmdline`);
    if (cmdline?.includes(dataDir) && isAlive(Number(entry))) found.push(Number(entry));
  }
  return found;
}

function readIfExistsQuietly(path: string): string | undefined {
  try {
    return readIfExists(path);
  } catch {
    // The process exited while it was read.
    return undefined;
  }
}

function config(sandboxId: string, env: Record<string, string>): SandboxCreateConfig {
  return { sandboxId, env, source: { kind: "image" }, timeoutMs: 60_000, uplinkSocket };
}

/** PIDs the probes reported, so a failing run still leaves nothing behind. */
const reportedPids: number[] = [];

beforeAll(() => {
  dataDir = tempDir("local-stop");
  uplinkSocket = join(dataDir, "uplink.sock");
  writeFileSync(uplinkSocket, "");
});

afterAll(() => {
  for (const pid of [...reportedPids, ...processesOfThisTest()]) {
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe("local provider: stopping a sandbox that bubblewrap is still setting up", () => {
  it("terminate kills a namespace init that has left bubblewrap's process group and outlives bubblewrap", async () => {
    const bwrapPath = join(dataDir, "setup-stage-bwrap");
    writeFileSync(bwrapPath, SETUP_STAGE_BWRAP, { mode: 0o755 });
    const provider = await LocalProvider.start({
      dataDir: join(dataDir, "stand-in"),
      bridgeBundle: join(dataDir, "no-bridge.mjs"),
      opencodeBin: undefined,
      bwrapPath,
      command: ["/bin/sh", "-c", 'echo $$ > "$PID_FILE.tmp" && mv "$PID_FILE.tmp" "$PID_FILE" && exec sleep 600'],
    });
    try {
      const pidFile = join(dataDir, "init.pid");
      await provider.create(config("setup-stage", { PID_FILE: pidFile }));
      const init = Number(await waitFor(() => readIfExists(pidFile), "the stand-in's namespace init to start"));
      reportedPids.push(init);
      expect(isAlive(init)).toBe(true);

      await provider.terminate("setup-stage");

      await waitFor(() => !isAlive(init), "the namespace init to be gone", 5_000);
    } finally {
      await provider.close();
    }
  });

  it("terminate right after create leaves no process of a real bubblewrap sandbox behind", async () => {
    const provider = await LocalProvider.start({
      dataDir: join(dataDir, "real"),
      bridgeBundle: join(dataDir, "no-bridge.mjs"),
      opencodeBin: undefined,
      command: ["/bin/sh", "-c", "sleep 600"],
    });
    try {
      // Each stop lands somewhere else in bubblewrap's set-up; the unguarded window is a few
      // microseconds wide, so many quick stops are what can meet it.
      for (let round = 0; round < 25; round += 1) {
        await provider.create(config(`quick-${round}`, {}));
        await provider.terminate(`quick-${round}`);
        expect(existsSync(provider.sandboxDir(`quick-${round}`))).toBe(false);
      }
      await waitFor(() => processesOfThisTest().length === 0, "every sandbox process to be gone", 5_000);
    } finally {
      await provider.close();
    }
  });
});
