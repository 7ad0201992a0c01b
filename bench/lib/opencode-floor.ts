import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { buildOpencodeConfig, opencodeEnv } from "@lookout/bridge";
import { freePort } from "@lookout/dev-stack";
import { REPO_ROOT } from "@lookout/e2e";
import { type ScriptedModel, startScriptedModel } from "@lookout/scripted-model";
import { createOpencodeClient, type OpencodeClient } from "@opencode-ai/sdk/v2/client";
import { z } from "zod";

/** The offline model as the bridge's configuration names it (the gateway's `scripted` provider). */
const PROVIDER_ID = "scripted";
const MODEL_ID = "demo";
/** How long `opencode serve` may take to answer its health check. */
const START_TIMEOUT_MS = 60_000;
const HEALTH_POLL_MS = 50;
/** How long one prompt may take to stream its first token and finish. */
const PROMPT_TIMEOUT_MS = 120_000;
/** How long OpenCode gets to exit on SIGTERM before its process group is killed. */
const STOP_GRACE_MS = 5_000;

const Health = z.object({ healthy: z.literal(true) });
const Created = z.looseObject({ id: z.string().min(1) });
const OpencodeEvent = z.looseObject({ type: z.string(), properties: z.looseObject({}).optional() });

/** One prompt to a bare OpenCode, on this process's `performance.now()` clock. */
export interface FloorPrompt {
  /** When `promptAsync` returned: OpenCode accepted the prompt. */
  acceptedAt: number;
  /** When the first non-empty text or reasoning of the agent's answer arrived. */
  firstTokenAt: number;
}

/**
 * The floor for session start: a bare `opencode serve` on this machine, outside any sandbox, with
 * the configuration the bridge gives OpenCode (`buildOpencodeConfig`: the offline model as an
 * OpenAI-compatible provider, the same permissions) and the prepared OpenCode config directory the
 * local provider binds into sandboxes, prompted through the OpenCode SDK as the bridge does.
 * The scripted model runs in this process, reached directly (no gateway, no relay).
 */
export class OpencodeFloor {
  private constructor(
    private readonly model: ScriptedModel,
    private readonly modelToken: string,
    private readonly workDir: string,
    private readonly repository: string,
  ) {}

  /** Starts the scripted model; `repository` is the work tree OpenCode runs in. */
  static async prepare(repository: string): Promise<OpencodeFloor> {
    const modelToken = randomBytes(32).toString("base64url");
    const model = await startScriptedModel({ port: 0, host: "127.0.0.1", token: modelToken });
    return new OpencodeFloor(model, modelToken, mkdtempSync(join(tmpdir(), "lookout-bench-floor-")), repository);
  }

  /** Starts `opencode serve` and waits until it is healthy. */
  async startServer(): Promise<RunningOpencode> {
    const bin = findOpencodeBinary();
    const configDir = preparedConfigDir();
    const home = mkdtempSync(join(this.workDir, "home-"));
    for (const dir of [".config", ".cache", join(".local", "share"), join(".local", "state")])
      mkdirSync(join(home, dir), { recursive: true });
    // A copy, not a link: whatever OpenCode writes there must not reach the directory sandboxes share.
    cpSync(configDir, join(home, ".config", "opencode"), { recursive: true });
    const config = buildOpencodeConfig({
      model: `${PROVIDER_ID}/${MODEL_ID}`,
      modelProviders: [
        { id: PROVIDER_ID, kind: "openai-compatible", baseUrl: this.model.url, apiKey: this.modelToken, models: [MODEL_ID] },
      ],
    });
    const password = randomBytes(24).toString("base64url");
    const authorization = `Basic ${Buffer.from(`opencode:${password}`).toString("base64")}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = performance.now();
    // The bridge's environment for OpenCode, as the bridge builds it.
    const child = spawn(bin, ["serve", "--hostname=127.0.0.1", `--port=${port}`], {
      cwd: this.repository,
      env: opencodeEnv(
        {
          home,
          config,
          gitIdentity: { name: "Lookout bench", email: "bench@lookout.local" },
          baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        },
        password,
      ),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    const keep = (chunk: Buffer) => (output = (output + chunk.toString("utf8")).slice(-4_000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const running = new RunningOpencode(child, url, authorization, this.repository, home);
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`opencode exited while starting: ${output.trim()}`);
      if (performance.now() > deadline) {
        await running.stop();
        throw new Error(`opencode was not healthy within ${START_TIMEOUT_MS} ms: ${output.trim()}`);
      }
      const healthy = await fetch(`${url}/global/health`, { headers: { authorization }, signal: AbortSignal.timeout(2_000) })
        .then(async (response) => response.ok && Health.safeParse(await response.json()).success)
        .catch(() => false);
      if (healthy) break;
      await sleep(HEALTH_POLL_MS);
    }
    running.startedAt = started;
    running.readyAt = performance.now();
    running.listen();
    return running;
  }

  async close(): Promise<void> {
    await this.model.close();
    rmSync(this.workDir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** A waiter for the first token of one OpenCode session's answer. */
interface TokenWaiter {
  sessionId: string;
  /** Message ids by role, as `message.updated` announces them. */
  roles: Map<string, string>;
  /** Text and reasoning parts of the answer seen so far, empty until a delta arrives. */
  parts: Set<string>;
  firstTokenAt: number | null;
  idle: boolean;
  wake: () => void;
}

/** A running `opencode serve` of the floor, with one event stream shared by its prompts. */
export class RunningOpencode {
  /** When the process was spawned and when it answered its health check (`performance.now()`). */
  startedAt = 0;
  readyAt = 0;
  private readonly client: OpencodeClient;
  private readonly abort = new AbortController();
  private readonly exited: Promise<void>;
  private waiter: TokenWaiter | null = null;

  constructor(
    private readonly child: ChildProcess,
    url: string,
    authorization: string,
    directory: string,
    /** Its private home (with the copied config directory), removed when it stops. */
    private readonly home: string,
  ) {
    this.client = createOpencodeClient({ baseUrl: url, directory, headers: { authorization } });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /** Opens the event stream (once, after the server is healthy). */
  listen(): void {
    const run = async () => {
      const { stream } = await this.client.event.subscribe(undefined, { signal: this.abort.signal });
      for await (const raw of stream) this.onEvent(raw);
    };
    run().catch(() => {
      // The stream ends when the server stops; a prompt waiting then times out with its own message.
    });
  }

  /**
   * Creates a session, sends `text` and times the first streamed token from the moment OpenCode
   * accepted the prompt (`promptAsync` returned); then waits until the session is idle again.
   */
  async prompt(text: string): Promise<FloorPrompt> {
    const created = Created.parse((await this.client.session.create({ title: "bench floor" })).data);
    const waiter: TokenWaiter = {
      sessionId: created.id,
      roles: new Map(),
      parts: new Set(),
      firstTokenAt: null,
      idle: false,
      wake: () => undefined,
    };
    this.waiter = waiter;
    const result = await this.client.session.promptAsync({
      sessionID: created.id,
      model: { providerID: PROVIDER_ID, modelID: MODEL_ID },
      parts: [{ type: "text", text }],
    });
    const acceptedAt = performance.now();
    if (result.error) throw new Error(`OpenCode refused the prompt: ${JSON.stringify(result.error)}`);
    await this.until(() => waiter.firstTokenAt !== null, "the first token");
    await this.until(() => waiter.idle, "the prompt to finish");
    this.waiter = null;
    return { acceptedAt, firstTokenAt: Math.max(acceptedAt, waiter.firstTokenAt!) };
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.terminate();
    rmSync(this.home, { recursive: true, force: true, maxRetries: 3 });
  }

  private async terminate(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-pid, name);
      } catch {
        // The group is gone already.
      }
    };
    signal("SIGTERM");
    const stopped = await Promise.race([this.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!stopped) {
      signal("SIGKILL");
      await this.exited;
    }
  }

  private async until(done: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + PROMPT_TIMEOUT_MS;
    while (!done()) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error(`the floor's OpenCode did not deliver ${what} within ${PROMPT_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        if (this.waiter) this.waiter.wake = () => (clearTimeout(timer), resolve());
      });
    }
  }

  /** Follows the answer as the bridge's translator does: the agent's text and reasoning parts, not the user's. */
  private onEvent(raw: unknown): void {
    const waiter = this.waiter;
    const event = OpencodeEvent.safeParse(raw);
    if (!waiter || !event.success) return;
    const at = performance.now();
    const properties = event.data.properties ?? {};
    switch (event.data.type) {
      case "message.updated": {
        const info = z.looseObject({ id: z.string(), sessionID: z.string(), role: z.string() }).safeParse(properties.info);
        if (info.success && info.data.sessionID === waiter.sessionId) waiter.roles.set(info.data.id, info.data.role);
        break;
      }
      case "message.part.updated": {
        const part = z
          .looseObject({
            id: z.string(),
            sessionID: z.string(),
            messageID: z.string(),
            type: z.string(),
            text: z.string().optional(),
            synthetic: z.boolean().optional(),
          })
          .safeParse(properties.part);
        if (!part.success || part.data.sessionID !== waiter.sessionId || waiter.roles.get(part.data.messageID) === "user") break;
        if ((part.data.type !== "text" && part.data.type !== "reasoning") || part.data.synthetic) break;
        waiter.parts.add(part.data.id);
        if ((part.data.text ?? "").length > 0) waiter.firstTokenAt ??= at;
        break;
      }
      case "message.part.delta": {
        const delta = z
          .looseObject({ sessionID: z.string(), partID: z.string(), field: z.string(), delta: z.string() })
          .safeParse(properties);
        if (
          delta.success &&
          delta.data.sessionID === waiter.sessionId &&
          delta.data.field === "text" &&
          waiter.parts.has(delta.data.partID)
        )
          if (delta.data.delta.length > 0) waiter.firstTokenAt ??= at;
        break;
      }
      case "session.idle":
      case "session.status": {
        const status = z
          .looseObject({ sessionID: z.string(), status: z.looseObject({ type: z.string() }).optional() })
          .safeParse(properties);
        if (!status.success || status.data.sessionID !== waiter.sessionId) break;
        if (event.data.type === "session.idle" || status.data.status?.type === "idle") waiter.idle = true;
        break;
      }
      default:
        return;
    }
    waiter.wake();
  }
}

/**
 * The opencode binary the local provider runs (`findOpencodeBinary` in the gateway's config):
 * `LOOKOUT_OPENCODE_BIN`, else the platform package in the repository's pnpm store (the `-baseline`
 * build on CPUs without AVX2).
 */
function findOpencodeBinary(): string {
  const configured = process.env.LOOKOUT_OPENCODE_BIN;
  if (configured) return configured;
  const store = join(REPO_ROOT, "node_modules", ".pnpm");
  const hasAvx2 = existsSync("/proc/cpuinfo") && /\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  const flavours = hasAvx2 ? ["opencode-linux-x64", "opencode-linux-x64-baseline"] : ["opencode-linux-x64-baseline"];
  const entries = existsSync(store) ? readdirSync(store) : [];
  for (const flavour of flavours) {
    for (const entry of entries.filter((name) => name.startsWith(`${flavour}@`))) {
      const candidate = join(store, entry, "node_modules", flavour, "bin", "opencode");
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new Error("no opencode binary in the pnpm store; run the setup script or set LOOKOUT_OPENCODE_BIN");
}

/** The OpenCode config directory the local provider prepares and binds read-only into every sandbox. */
function preparedConfigDir(): string {
  const dir = process.env.LOOKOUT_OPENCODE_CONFIG_DIR ?? join(REPO_ROOT, ".lookout", "image", "opencode-config");
  if (!existsSync(join(dir, ".lookout-prepared")))
    throw new Error(`${dir} is not prepared (no .lookout-prepared); run scripts/setup.sh, or start the gateway once`);
  return dir;
}
