import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../src";

/**
 * What the stack leaves listening on the host (security issue 8): no DevTools inspector of the
 * Worker (whose `Runtime.evaluate` reads every secret the Worker holds) on any port the stack's
 * processes own, and an offline model that answers only its token.
 */

const DEVTOOLS_PROBE_TIMEOUT_MS = 5_000;

/** This process and every process started under it: the gateway, the Worker, workerd, sandboxes. */
function processTree(root: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // Exited while we looked.
    }
    // Fields after the command name, which is in parentheses and may contain spaces: state, ppid, …
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(childrenOf.get(pid) ?? []));
  }
  return tree;
}

/** The TCP ports a process listens on: its socket fds' inodes looked up in its network namespace's tables. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      })();
      const socket = /^socket:\[(\d+)\]$/.exec(target);
      if (socket) inodes.add(socket[1]!);
    }
  } catch {
    return []; // Exited, or a sandbox process in a namespace we may not inspect.
  }
  const ports: number[] = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // st 0A is LISTEN; field 9 is the socket's inode.
      if (fields[3] === "0A" && inodes.has(fields[9] ?? "")) ports.push(Number.parseInt(fields[1]?.split(":")[1] ?? "", 16));
    }
  }
  return ports;
}

/** Whether a port answers the DevTools discovery request the way an inspector (wrangler's or workerd's) does. */
async function answersAsInspector(port: number): Promise<boolean> {
  let response: Response;
  try {
    response = await fetch(`http://127.0.0.1:${port}/json/version`, { signal: AbortSignal.timeout(DEVTOOLS_PROBE_TIMEOUT_MS) });
  } catch {
    return false; // Not HTTP, or it hung up: not an inspector.
  }
  const text = await response.text();
  return response.ok && /"Protocol-Version"/.test(text);
}

describe("the host services of a running stack", () => {
  let stack: Stack;
  let ports: Map<number, number>;

  beforeAll(async () => {
    stack = await startStack();
    ports = new Map();
    for (const pid of processTree(process.pid)) for (const port of listeningPorts(pid)) ports.set(port, pid);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("opens no DevTools inspector on any port its processes listen on", async () => {
    // The scan sees the stack's own listeners, so an inspector among them could not hide.
    for (const url of [stack.url, stack.gatewayUrl, stack.model.url]) expect([...ports.keys()]).toContain(Number(new URL(url).port));
    const inspectors: string[] = [];
    for (const [port, pid] of ports) {
      if (await answersAsInspector(port)) inspectors.push(`${port} (${readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]})`);
    }
    expect(inspectors).toEqual([]);
    // wrangler dev's default inspector port in particular is not the stack's.
    expect([...ports.keys()]).not.toContain(9229);
  });

  it("serves the offline model only to the holder of its token", async () => {
    const models = await fetch(`${stack.model.url}/models`);
    expect(models.status).toBe(401);
    expect(await models.json()).toMatchObject({ error: { code: "invalid_api_key" } });
    const completion = await fetch(`${stack.model.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer not-the-token" },
      body: JSON.stringify({ model: "demo", messages: [{ role: "user", content: "hello" }] }),
    });
    expect(completion.status).toBe(401);
    expect(stack.model.requests).toHaveLength(0);
  });
});
