import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { SANDBOX_TOKEN_PREFIX, type SessionEvent } from "@lookout/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, createRepoFixture, SessionClient, type Stack, startStack } from "../src";

/**
 * The attack from security issue 8, replayed from prompts on the real stack: an agent inside a real
 * bubblewrap sandbox probes every host listener, the relay, and every environment, command line,
 * memory and file it can read for the sandbox's token. A second stack with egress "none" shows that
 * package installs fail cleanly when the policy says so.
 */

const PROBE = readFileSync(join(import.meta.dirname, "fixtures", "boundary-probe.cjs"), "utf8");
/** A token-shaped string planted in the repository: the probe must find it, or its scan proves nothing. */
const CANARY = `${SANDBOX_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
const NPM_INSTALL =
  "mkdir -p /tmp/npm-probe && cd /tmp/npm-probe && npm install --no-audit --no-fund --fetch-retries=0 is-number@7.0.0 > /workspace/npm.log 2>&1; echo $? > /workspace/npm-exit";

interface Probe {
  reached: string[];
  tunnelled: string[];
  routes: Record<string, string>;
  found: string[];
  canary: string[];
  counts: { environ: number; cmdline: number; mem: number; memBytes: number; files: number };
  hostPorts: number[];
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The TCP ports this host listens on, every address family and interface. */
function hostListeningPorts(): number[] {
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== "0A") continue;
      const port = Number.parseInt(fields[1]?.split(":")[1] ?? "", 16);
      if (Number.isFinite(port)) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

function hostAddresses(): string[] {
  return [
    "127.0.0.1",
    ...Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => entry.family === "IPv4" && !entry.internal)
      .map((entry) => entry.address),
  ];
}

class SessionRun {
  constructor(
    readonly stack: Stack,
    readonly cookie: string,
    readonly client: SessionClient,
  ) {}

  static async start(stack: Stack, cookie: string, repositoryId: string, prompt: string): Promise<SessionRun> {
    const created = await apiClient(stack.url, cookie)<{ session: { id: string } }>("POST", "/api/sessions", { repositoryId, prompt });
    expect(created.status).toBe(201);
    const client = new SessionClient(stack.url, cookie, created.json.session.id);
    await client.connect(0);
    const run = new SessionRun(stack, cookie, client);
    await run.finished(prompt);
    return run;
  }

  /** Sends a prompt and waits until it finished; returns its `prompt.finished` event. */
  async prompt(requestId: string, text: string): Promise<SessionEvent> {
    const sent = await apiClient(this.stack.url, this.cookie)<{ promptId: string }>(
      "POST",
      `/api/sessions/${this.client.sessionId}/prompts`,
      {
        requestId,
        text,
      },
    );
    expect(sent.status).toBe(202);
    return this.finished(text);
  }

  private async finished(text: string): Promise<SessionEvent> {
    const queued = await this.client.waitForEvent(
      (e) => e.payload.type === "prompt.queued" && e.payload.text === text,
      60_000,
      "the prompt",
    );
    const promptId = queued.payload.type === "prompt.queued" ? queued.payload.promptId : "";
    const finished = await this.client.waitForEvent(
      (e) => e.payload.type === "prompt.finished" && e.payload.promptId === promptId,
      400_000,
      `the prompt ${JSON.stringify(text.slice(0, 40))} to finish`,
    );
    expect(finished.payload).toMatchObject({ status: "completed" });
    return finished;
  }

  get sandboxId(): string {
    const status = this.client.events().findLast((e) => e.payload.type === "sandbox.status" && e.payload.sandboxId);
    if (!status || status.payload.type !== "sandbox.status" || !status.payload.sandboxId) throw new Error("no sandbox yet");
    return status.payload.sandboxId;
  }

  workspaceFile(name: string): string {
    return join(this.stack.stateDir, "gateway", "sandboxes", this.sandboxId, "workspace", name);
  }

  /** The SHA-256 of the sandbox's token, as the gateway's registry keeps it. */
  tokenHash(): string {
    const registry = JSON.parse(readFileSync(join(this.stack.stateDir, "gateway", "registry.json"), "utf8")) as {
      sandboxes: { sandboxId: string; tokenHash: string }[];
    };
    const record = registry.sandboxes.find((entry) => entry.sandboxId === this.sandboxId);
    if (!record?.tokenHash) throw new Error(`no registry record for ${this.sandboxId}`);
    return record.tokenHash;
  }

  close(): void {
    this.client.close();
  }
}

async function registerRepository(stack: Stack, cookie: string): Promise<string> {
  const repo = createRepoFixture({ "probe/boundary-probe.cjs": PROBE, "probe/canary.txt": CANARY });
  const created = await apiClient(stack.url, cookie)<{ repository: { id: string } }>("POST", "/api/repositories", {
    kind: "local",
    path: repo,
    name: "boundary",
  });
  expect(created.status).toBe(201);
  return created.json.repository.id;
}

describe("a sandbox on the real stack, probed from a prompt", () => {
  let stack: Stack;
  let run: SessionRun;

  beforeAll(async () => {
    stack = await startStack();
    const cookie = await stack.login();
    run = await SessionRun.start(stack, cookie, await registerRepository(stack, cookie), "run command true");
  });

  afterAll(async () => {
    run?.close();
    await stack?.stop();
  });

  it("reaches no host listener, directly or through the relay, and finds the sandbox token nowhere it can read", async () => {
    const ports = hostListeningPorts();
    // The stack's own listeners are among what the agent tries.
    for (const url of [stack.url, stack.gatewayUrl]) expect(ports).toContain(Number(new URL(url).port));
    const tokenHash = run.tokenHash();
    await run.prompt(
      "probe",
      `run long command node probe/boundary-probe.cjs ${tokenHash} ${sha256(CANARY)} ${SANDBOX_TOKEN_PREFIX} ${ports.join(",")} ${hostAddresses().join(",")}`,
    );
    const probe = JSON.parse(readFileSync(run.workspaceFile("boundary.json"), "utf8")) as Probe;

    expect(probe.hostPorts).toEqual(ports);
    expect(probe.reached).toEqual([]);
    expect(probe.tunnelled).toEqual([]);
    for (const [route, status] of Object.entries(probe.routes)) expect(status, route).toMatch(/^HTTP\/1\.1 404/);
    expect(probe.found).toEqual([]);
    // The same scan does find a token-shaped secret where one is: in a file and in memory.
    expect(probe.canary.some((where) => where.endsWith("/probe/canary.txt"))).toBe(true);
    expect(probe.canary.some((where) => where.endsWith("/mem"))).toBe(true);
    // The scan looked where a token would be: environments and memory of the agent's processes, files.
    expect(probe.counts.environ).toBeGreaterThan(2);
    expect(probe.counts.mem).toBeGreaterThan(2);
    expect(probe.counts.memBytes).toBeGreaterThan(1_000_000);
    expect(probe.counts.files).toBeGreaterThan(3);
  }, 420_000); // The probe reads every process's memory; on a loaded 2-core machine that takes minutes.

  it("installs a package from the registry through the relay when egress is allowed", async () => {
    await run.prompt("npm-public", `run command ${NPM_INSTALL}`);
    const exit = readFileSync(run.workspaceFile("npm-exit"), "utf8").trim();
    expect(exit, readFileSync(run.workspaceFile("npm.log"), "utf8")).toBe("0");
  });
});

describe("a sandbox whose egress policy is none", () => {
  let stack: Stack;
  let run: SessionRun;

  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: { LOOKOUT_SANDBOX_EGRESS: "none" } });
    const cookie = await stack.login();
    run = await SessionRun.start(stack, cookie, await registerRepository(stack, cookie), "run command true");
  });

  afterAll(async () => {
    run?.close();
    await stack?.stop();
  });

  it("fails a package install cleanly with the policy's reason, and the session still works", async () => {
    await run.prompt("npm-none", `run command ${NPM_INSTALL}`);
    expect(readFileSync(run.workspaceFile("npm-exit"), "utf8").trim()).not.toBe("0");
    expect(readFileSync(run.workspaceFile("npm.log"), "utf8")).toMatch(/403|egress/i);
    await run.prompt("after", "run command echo still-here > /workspace/after");
    expect(readFileSync(run.workspaceFile("after"), "utf8").trim()).toBe("still-here");
  });
});
