import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ScriptedModel, startScriptedModel } from "@lookout/scripted-model";

/** The repository root, found from this file. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface StackOptions {
  /** Extra `[vars]` for the Worker, e.g. shorter lifecycle timeouts. */
  vars?: Record<string, string>;
  /** Extra environment for the sandbox gateway. */
  gatewayEnv?: Record<string, string>;
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
 * the local bubblewrap provider and the Worker on wrangler's dev server (child processes, stopped by
 * PID), each on a free port with its own temporary state.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const stateDir = mkdtempSync(join(tmpdir(), "lookout-stack-"));
  const [workerPort, gatewayPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${workerPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const loginToken = randomBytes(32).toString("base64url");
  // Only the gateway's model proxy holds it; nothing else on the host can use the offline model.
  const modelToken = randomBytes(32).toString("base64url");
  const gatewaySecret = randomBytes(32).toString("base64url");
  const gitCredentialSecret = randomBytes(32).toString("base64url");
  const output: string[] = [];
  const children: ChildProcess[] = [];

  const model = await startScriptedModel({ port: 0, host: "127.0.0.1", token: modelToken });

  const config = join(stateDir, "wrangler.toml");
  writeFileSync(config, workerConfig(options.vars ?? {}, url, gatewayUrl));
  writeFileSync(
    join(stateDir, ".dev.vars"),
    [
      `ADMIN_TOKEN_SHA256=${createHash("sha256").update(loginToken).digest("hex")}`,
      `WS_TOKEN_SECRET=${randomBytes(32).toString("base64url")}`,
      `SECRETS_ENCRYPTION_KEYS=k1:${randomBytes(32).toString("base64")}`,
      `GATEWAY_SERVICE_SECRET=${gatewaySecret}`,
      `GIT_CREDENTIAL_SECRET=${gitCredentialSecret}`,
      "",
    ].join("\n"),
  );

  const require = createRequire(join(REPO_ROOT, "apps", "control-plane", "package.json"));
  const wrangler = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
  const tsx = join(REPO_ROOT, "node_modules", "tsx", "dist", "cli.mjs");
  const quiet = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1", CI: "true" };
  const persist = join(stateDir, "wrangler-state");

  const migrate = spawnSync(
    process.execPath,
    [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist, "-c", config],
    {
      cwd: stateDir,
      env: { ...process.env, ...quiet },
      encoding: "utf8",
    },
  );
  if (migrate.status !== 0) throw new Error(`D1 migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const launch = (name: string, args: string[], env: Record<string, string>, cwd: string) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const capture = (chunk: Buffer) => {
      const text = chunk.toString();
      output.push(`[${name}] ${text}`);
      if (options.verbose) process.stderr.write(`[${name}] ${text}`);
    };
    child.stdout?.on("data", capture);
    child.stderr?.on("data", capture);
    children.push(child);
    return child;
  };

  launch(
    "gateway",
    [tsx, join(REPO_ROOT, "apps", "sandbox-gateway", "src", "main.ts")],
    {
      LOOKOUT_GATEWAY_HOST: "127.0.0.1",
      LOOKOUT_GATEWAY_PORT: String(gatewayPort),
      LOOKOUT_SERVICE_SECRET_CONTROL_PLANE: gatewaySecret,
      LOOKOUT_GIT_CREDENTIAL_SECRET: gitCredentialSecret,
      LOOKOUT_SANDBOX_PROVIDER: "local",
      LOOKOUT_DATA_DIR: join(stateDir, "gateway"),
      LOOKOUT_SCRIPTED_MODEL_URL: `${model.url.replace(/\/v1\/?$/, "")}/v1`,
      LOOKOUT_SCRIPTED_MODEL_TOKEN: modelToken,
      // Test repositories are made in the system's temporary directory.
      LOOKOUT_LOCAL_REPO_ROOTS: realpathSync(tmpdir()),
      ...options.gatewayEnv,
    },
    REPO_ROOT,
  );
  // The Worker without a DevTools inspector, as the start command runs it (scripts/worker-dev.ts).
  launch(
    "worker",
    [
      tsx,
      join(REPO_ROOT, "scripts", "worker-dev.ts"),
      "--config",
      config,
      "--ip",
      "127.0.0.1",
      "--port",
      String(workerPort),
      "--persist-to",
      persist,
    ],
    quiet,
    stateDir,
  );

  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.all(children.map((child) => exited(child, 10_000)));
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await model.close();
    rmSync(stateDir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    await waitUntilUp(`${gatewayUrl}/healthz`, children, output);
    await waitUntilUp(`${url}/api/health`, children, output);
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

function workerConfig(vars: Record<string, string>, url: string, gatewayUrl: string): string {
  // The stack's own copy of the root wrangler.toml, with absolute paths and its own URLs.
  const base = readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = .*$/m, `main = ${JSON.stringify(join(REPO_ROOT, "apps/control-plane/src/index.ts"))}`)
    .replace(/^directory = .*$/m, `directory = ${JSON.stringify(join(REPO_ROOT, "apps/web/dist"))}`)
    .replace(/^migrations_dir = .*$/m, `migrations_dir = ${JSON.stringify(join(REPO_ROOT, "apps/control-plane/migrations"))}`)
    .replace(/^GATEWAY_URL = .*$/m, `GATEWAY_URL = ${JSON.stringify(gatewayUrl)}`)
    .replace(/^PUBLIC_URL = .*$/m, `PUBLIC_URL = ${JSON.stringify(url)}`);
  const extra = Object.entries(vars)
    .map(([key, value]) => `${key} = ${JSON.stringify(value)}`)
    .join("\n");
  return extra ? base.replace("[vars]", `[vars]\n${extra}`) : base;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
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
