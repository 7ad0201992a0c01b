import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { copyWranglerConfig, freePort, LOCAL_HOST, type RunningWorker, startWorker } from "@lookout/dev-stack";
import { type ScriptedModel, type ScriptInput, startScriptedModel } from "@lookout/scripted-model";

/** The repository root, found from this file. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface StackOptions {
  /** Extra `[vars]` for the Worker, e.g. shorter lifecycle timeouts. */
  vars?: Record<string, string>;
  /** Extra environment for the sandbox gateway. */
  gatewayEnv?: Record<string, string>;
  /** Scripts the offline model tries before its built-ins (a test's own agent behaviour). */
  modelScripts?: readonly ScriptInput[];
  /** Print the children's output (for debugging a failing test). */
  verbose?: boolean;
}

export interface Stack {
  url: string;
  gatewayUrl: string;
  model: ScriptedModel;
  loginToken: string;
  /** Shared by the Worker and the gateway; tests mint git credentials with it to probe the gateway. */
  gitCredentialSecret: string;
  stateDir: string;
  /** Signs in with the admin login token; returns the cookie header value. */
  login(): Promise<string>;
  /** Everything the children wrote, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts the real system for a test: the scripted model (in this process), the sandbox gateway with
 * the local bubblewrap provider and the Worker on wrangler's dev server with no inspector
 * (`@lookout/dev-stack`; child processes, stopped by PID), each on a free port with its own
 * temporary state.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const stateDir = mkdtempSync(join(tmpdir(), "lookout-stack-"));
  const [workerPort, gatewayPort] = [await freePort(), await freePort()];
  const url = `http://${LOCAL_HOST}:${workerPort}`;
  const gatewayUrl = `http://${LOCAL_HOST}:${gatewayPort}`;
  const loginToken = randomBytes(32).toString("base64url");
  // Only the gateway's model proxy holds it; nothing else on the host can use the offline model.
  const modelToken = randomBytes(32).toString("base64url");
  const gatewaySecret = randomBytes(32).toString("base64url");
  const gitCredentialSecret = randomBytes(32).toString("base64url");
  const output: string[] = [];
  const capture = (name: string) => (text: string) => {
    output.push(`[${name}] ${text}`);
    if (options.verbose) process.stderr.write(`[${name}] ${text}`);
  };
  const children: ChildProcess[] = [];
  let worker: RunningWorker | undefined;

  const model = await startScriptedModel({ port: 0, host: LOCAL_HOST, token: modelToken, scripts: options.modelScripts ?? [] });

  const launch = (name: string, args: string[], env: Record<string, string>) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const write = capture(name);
    child.stdout?.on("data", (chunk: Buffer) => write(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => write(chunk.toString()));
    children.push(child);
    return child;
  };

  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.all([worker?.stop(), ...children.map((child) => exited(child, 10_000))]);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await model.close();
    rmSync(stateDir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    launch(
      "gateway",
      [join(REPO_ROOT, "node_modules", "tsx", "dist", "cli.mjs"), join(REPO_ROOT, "apps", "sandbox-gateway", "src", "main.ts")],
      {
        LOOKOUT_GATEWAY_HOST: LOCAL_HOST,
        LOOKOUT_GATEWAY_PORT: String(gatewayPort),
        LOOKOUT_SERVICE_SECRET_CONTROL_PLANE: gatewaySecret,
        LOOKOUT_GIT_CREDENTIAL_SECRET: gitCredentialSecret,
        LOOKOUT_SANDBOX_PROVIDER: "local",
        LOOKOUT_DATA_DIR: join(stateDir, "gateway"),
        LOOKOUT_SCRIPTED_MODEL_URL: `${model.url.replace(/\/v1\/?$/, "")}/v1`,
        LOOKOUT_SCRIPTED_MODEL_TOKEN: modelToken,
        // Test repositories are made in the system's temporary directory.
        LOOKOUT_LOCAL_REPO_ROOTS: realpathSync(tmpdir()),
        // No warm pool unless a test asks for one: each used repository would get a sandbox of its own.
        LOOKOUT_POOL: "off",
        ...options.gatewayEnv,
      },
    );
    // The stack's own copy of the root wrangler.toml (absolute paths), so wrangler reads no
    // developer's `.dev.vars` and builds into the stack's directory.
    worker = await startWorker({
      name: "the control plane",
      config: copyWranglerConfig(join(REPO_ROOT, "wrangler.toml"), stateDir),
      persistTo: join(stateDir, "wrangler-state"),
      port: workerPort,
      migrateD1: ["DB"],
      vars: { GATEWAY_URL: gatewayUrl, PUBLIC_URL: url, ...options.vars },
      secrets: {
        ADMIN_TOKEN_SHA256: createHash("sha256").update(loginToken).digest("hex"),
        WS_TOKEN_SECRET: randomBytes(32).toString("base64url"),
        SECRETS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`,
        GATEWAY_SERVICE_SECRET: gatewaySecret,
        GIT_CREDENTIAL_SECRET: gitCredentialSecret,
      },
      readyPath: "/api/health",
      onLine: (line) => capture("worker")(`${line}\n`),
    });
    await waitUntilUp(`${gatewayUrl}/healthz`, children, output);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    gatewayUrl,
    model,
    loginToken,
    gitCredentialSecret,
    stateDir,
    logs: () => output.join(""),
    stop,
    async login() {
      const response = await fetch(`${url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: loginToken }),
      });
      const cookie = response.headers.get("set-cookie")?.split(";")[0];
      if (!cookie) throw new Error(`login failed: ${response.status}`);
      return cookie;
    },
  };
}

async function waitUntilUp(url: string, children: ChildProcess[], output: string[], timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = children.find((child) => child.exitCode !== null);
    if (dead) throw new Error(`a stack process exited early (${dead.exitCode}):\n${output.join("").slice(-4000)}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${url} did not come up within ${timeoutMs / 1000}s:\n${output.join("").slice(-4000)}`);
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(done, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
  });
}
