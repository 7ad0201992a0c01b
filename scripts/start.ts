/**
 * Starts the whole system locally: the scripted offline model (when no model key is set), the
 * sandbox gateway with the local bubblewrap provider, and the control-plane Worker on wrangler's
 * dev server (without its inspector, `@lookout/dev-stack`) with local D1 and Durable Object state.
 * Prints the dashboard URL with a fresh one-time login token. Everything it runs is a child process
 * stopped by PID on exit.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningWorker, startWorker } from "@lookout/dev-stack";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const stateDir = resolve(root, process.env.LOOKOUT_STATE_DIR ?? ".lookout");
const host = "127.0.0.1";
const workerPort = Number(process.env.LOOKOUT_PORT ?? 8787);
const gatewayPort = Number(process.env.LOOKOUT_GATEWAY_PORT ?? 8788);
const modelPort = Number(process.env.LOOKOUT_SCRIPTED_MODEL_PORT ?? 8789);
const publicUrl = `http://${host}:${workerPort}`;

const children: ChildProcess[] = [];
let worker: RunningWorker | undefined;

function say(message: string): void {
  process.stderr.write(`\x1b[1;34m[lookout]\x1b[0m ${message}\n`);
}

/** Secrets that must survive restarts (encryption keys, service secrets), created once. */
interface LocalSecrets {
  wsTokenSecret: string;
  secretsKeys: string;
  gatewaySecret: string;
  /** Shared by the Worker and the gateway: signs git credentials for local repositories. */
  gitCredentialSecret: string;
}

function localSecrets(): LocalSecrets {
  const file = join(stateDir, "secrets.json");
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Partial<LocalSecrets>) : {};
  // Secrets added by later versions are generated on the next start; existing ones are kept.
  const secrets: LocalSecrets = {
    wsTokenSecret: stored.wsTokenSecret ?? randomBytes(32).toString("base64url"),
    secretsKeys: stored.secretsKeys ?? `k1:${randomBytes(32).toString("base64")}`,
    gatewaySecret: stored.gatewaySecret ?? randomBytes(32).toString("base64url"),
    gitCredentialSecret: stored.gitCredentialSecret ?? randomBytes(32).toString("base64url"),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

function modelsFromEnvironment(): { models: string[]; defaultModel: string; offline: boolean } {
  const models: string[] = [];
  if (process.env.ANTHROPIC_API_KEY) models.push("anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5");
  if (process.env.OPENAI_API_KEY) models.push("openai/gpt-5", "openai/gpt-5-mini");
  if (process.env.LOOKOUT_OPENAI_COMPATIBLE_BASE_URL) {
    const id = process.env.LOOKOUT_OPENAI_COMPATIBLE_ID ?? "openai-compatible";
    for (const model of (process.env.LOOKOUT_OPENAI_COMPATIBLE_MODELS ?? "default").split(",")) models.push(`${id}/${model.trim()}`);
  }
  const offline = models.length === 0;
  models.push("scripted/demo");
  return { models, defaultModel: models[0]!, offline };
}

/**
 * Slack, when its tokens are in the environment (docs/slack.md): Socket Mode through the relay when
 * `SLACK_APP_TOKEN` is set too, else the Events API (which needs `SLACK_SIGNING_SECRET`). Without a
 * bot token in the environment, tokens may have been pasted in the dashboard: the relay's secret is
 * set anyway, so the relay can ask the control plane for them once it runs (`dashboard`).
 */
function slackFromEnvironment(): {
  mode: "socket" | "http" | "dashboard";
  workerSecrets: Record<string, string>;
  summary: string;
} {
  const relaySecret = randomBytes(32).toString("base64url");
  const bot = process.env.SLACK_BOT_TOKEN?.trim();
  if (!bot) {
    return {
      mode: "dashboard",
      workerSecrets: { SERVICE_SECRET_SLACK_RELAY: relaySecret },
      summary: "not connected — paste the tokens under Settings → Slack, or set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (docs/slack.md)",
    };
  }
  const signing = process.env.SLACK_SIGNING_SECRET?.trim();
  const workerSecrets: Record<string, string> = { SLACK_BOT_TOKEN: bot, ...(signing ? { SLACK_SIGNING_SECRET: signing } : {}) };
  if (process.env.SLACK_APP_TOKEN?.trim()) {
    workerSecrets.SERVICE_SECRET_SLACK_RELAY = relaySecret;
    return { mode: "socket", workerSecrets, summary: "Socket Mode — the relay connects with SLACK_APP_TOKEN" };
  }
  return {
    mode: "http",
    workerSecrets,
    summary: `Events API at ${publicUrl}/api/slack/events${signing ? "" : " (set SLACK_SIGNING_SECRET)"}`,
  };
}

/**
 * How the control plane says Slack reaches it when the tokens were pasted in the dashboard
 * (`socket`, `http` or `none`), asked through the relay's own signed request (`cli.ts --mode`).
 */
function dashboardSlackMode(relayEnv: NodeJS.ProcessEnv, relayArgs: string[]): Promise<string> {
  return new Promise((resolveMode) => {
    const child = spawn(process.execPath, [...relayArgs, "--mode"], {
      cwd: root,
      env: { ...process.env, ...relayEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => forwarder("slack")(chunk.toString().trim()));
    child.on("exit", (code) => resolveMode(code === 0 ? out.trim() : "none"));
  });
}

/** Writes a child's output line under its name. */
function forwarder(name: string): (line: string) => void {
  const prefix = `\x1b[2m${name.padEnd(8)}|\x1b[0m `;
  return (line) => {
    if (line.trim()) process.stderr.write(prefix + line + "\n");
  };
}

function onEarlyExit(name: string, code: number | null, signal: NodeJS.Signals | null): void {
  if (stopping) return;
  say(`${name} exited (${signal ?? code}); stopping everything.`);
  void stop(1);
}

function start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const forward = forwarder(name);
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) forward(line);
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  child.on("exit", (code, signal) => onEarlyExit(name, code, signal));
  children.push(child);
  return child;
}

async function waitFor(url: string, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`${what} did not come up at ${url} within ${timeoutMs / 1000}s`);
}

let stopping = false;
async function stop(code: number): Promise<never> {
  stopping = true;
  for (const child of children) if (child.pid && child.exitCode === null) child.kill("SIGTERM");
  const stopped = worker?.stop();
  const deadline = Date.now() + 5_000;
  while (children.some((child) => child.exitCode === null && child.signalCode === null) && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 100));
  }
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await stopped;
  process.exit(code);
}

/** A small git repository to try Lookout on, registered on first start. */
function ensureDemoRepository(): string {
  const path = join(stateDir, "demo-repo");
  if (existsSync(join(path, ".git"))) return path;
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "README.md"), "# Demo\n\nA tiny project to try Lookout on.\n");
  writeFileSync(join(path, "greet.js"), 'export function greet(name) {\n  return "Hello, " + name;\n}\n');
  const git = (...args: string[]) => {
    const result = spawnSync("git", args, { cwd: path, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
  };
  git("init", "-q", "-b", "main");
  git("-c", "user.name=Lookout", "-c", "user.email=bot@lookout.local", "add", ".");
  git("-c", "user.name=Lookout", "-c", "user.email=bot@lookout.local", "commit", "-q", "-m", "Initial commit");
  return path;
}

async function registerDemoRepository(loginToken: string, path: string): Promise<void> {
  const login = await fetch(`${publicUrl}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: loginToken }),
  });
  const cookie = login.headers.get("set-cookie")?.split(";")[0];
  if (!cookie) throw new Error(`could not sign in to register the demo repository (${login.status})`);
  const list = (await (await fetch(`${publicUrl}/api/repositories`, { headers: { cookie } })).json()) as {
    repositories: { path: string | null }[];
  };
  if (list.repositories.some((repository) => repository.path === path)) return;
  const created = await fetch(`${publicUrl}/api/repositories`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json" },
    body: JSON.stringify({
      kind: "local",
      path,
      name: "demo",
      defaultBranch: "main",
      description: "A tiny demo project (created by the start command)",
    }),
  });
  if (created.status !== 201 && created.status !== 409)
    throw new Error(`registering the demo repository failed: ${created.status} ${await created.text()}`);
  await fetch(`${publicUrl}/auth/logout`, { method: "POST", headers: { cookie } });
}

async function main(): Promise<void> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  const secrets = localSecrets();
  // 256 random bits: the Worker's sign-in limiter never refuses the right token, so guessing must be hopeless.
  const loginToken = randomBytes(32).toString("base64url");
  // The offline model answers only the gateway's model proxy, which alone holds this token.
  const modelToken = randomBytes(32).toString("base64url");
  const { models, defaultModel, offline } = modelsFromEnvironment();

  const tsx = join(root, "node_modules", "tsx", "dist", "cli.mjs");
  const slack = slackFromEnvironment();

  // The scripted model always runs, so the labelled offline demo model is available next to real ones.
  const scriptedUrl = `http://${host}:${modelPort}/v1`;
  if (offline)
    say("no model key found (ANTHROPIC_API_KEY, OPENAI_API_KEY or LOOKOUT_OPENAI_COMPATIBLE_BASE_URL): using the OFFLINE DEMO model");
  start(
    "model",
    process.execPath,
    [tsx, join(root, "packages", "scripted-model", "src", "cli.ts"), "--port", String(modelPort), "--host", host],
    { LOOKOUT_SCRIPTED_MODEL_TOKEN: modelToken },
  );

  start("gateway", process.execPath, [tsx, join(root, "apps", "sandbox-gateway", "src", "main.ts")], {
    LOOKOUT_GATEWAY_HOST: host,
    LOOKOUT_GATEWAY_PORT: String(gatewayPort),
    LOOKOUT_SERVICE_SECRET_CONTROL_PLANE: secrets.gatewaySecret,
    LOOKOUT_GIT_CREDENTIAL_SECRET: secrets.gitCredentialSecret,
    LOOKOUT_SANDBOX_PROVIDER: process.env.LOOKOUT_SANDBOX_PROVIDER ?? "local",
    LOOKOUT_DATA_DIR: join(stateDir, "gateway"),
    LOOKOUT_SCRIPTED_MODEL_URL: scriptedUrl,
    LOOKOUT_SCRIPTED_MODEL_TOKEN: modelToken,
    // The gateway's defaults (home and the installation's .lookout/), but with the state directory
    // LOOKOUT_STATE_DIR names, so the demo repository in it is admitted there too.
    LOOKOUT_LOCAL_REPO_ROOTS: process.env.LOOKOUT_LOCAL_REPO_ROOTS ?? [homedir(), stateDir].join(":"),
  });

  await waitFor(`http://${host}:${modelPort}/health`, "the scripted model");
  await waitFor(`http://${host}:${gatewayPort}/healthz`, "the sandbox gateway");

  say("applying local D1 migrations and starting the control plane");
  // Not `wrangler dev`: its inspector cannot be turned off, and it hands the Worker's secrets to
  // anything on the host that connects. Secrets go to the Worker as bindings, over a pipe; a
  // `.dev.vars` of your own next to wrangler.toml is still read for anything else.
  worker = await startWorker({
    name: "the control plane",
    config: join(root, "wrangler.toml"),
    persistTo: join(stateDir, "wrangler"),
    host,
    port: workerPort,
    migrateD1: ["DB"],
    vars: {
      GATEWAY_URL: `http://${host}:${gatewayPort}`,
      PUBLIC_URL: publicUrl,
      DEFAULT_MODEL: defaultModel,
      MODELS: models.join(","),
    },
    secrets: {
      ...slack.workerSecrets,
      ADMIN_TOKEN_SHA256: createHash("sha256").update(loginToken).digest("hex"),
      WS_TOKEN_SECRET: secrets.wsTokenSecret,
      SECRETS_ENCRYPTION_KEYS: process.env.SECRETS_ENCRYPTION_KEYS ?? secrets.secretsKeys,
      GATEWAY_SERVICE_SECRET: secrets.gatewaySecret,
      GIT_CREDENTIAL_SECRET: secrets.gitCredentialSecret,
    },
    readyPath: "/api/health",
    onLine: forwarder("worker"),
    // Edits to the Worker's sources reload it, as under `wrangler dev`.
    watch: true,
  });
  const running = worker;
  void running.exited.then(({ code, signal }) => onEarlyExit("worker", code, signal));
  await registerDemoRepository(loginToken, ensureDemoRepository());
  const relayArgs = [tsx, join(root, "packages", "slack-relay", "src", "cli.ts")];
  const relayEnv = {
    LOOKOUT_WORKER_URL: `http://${host}:${workerPort}`,
    LOOKOUT_SLACK_RELAY_SECRET: slack.workerSecrets.SERVICE_SECRET_SLACK_RELAY,
  };
  // Tokens pasted in the dashboard decide the mode only the control plane knows; ask it.
  const slackMode = slack.mode === "dashboard" ? await dashboardSlackMode(relayEnv, relayArgs) : slack.mode;
  const slackSummary =
    slack.mode !== "dashboard" || slackMode === "none"
      ? slack.summary
      : slackMode === "socket"
        ? "Socket Mode — the relay connects with the app-level token pasted in the dashboard"
        : `Events API at ${publicUrl}/api/slack/events (tokens pasted in the dashboard)`;
  if (slackMode === "socket") start("slack", process.execPath, relayArgs, relayEnv);

  const loginUrl = `${publicUrl}/auth/login?token=${loginToken}`;
  process.stdout.write(
    [
      "",
      "  Lookout is running.",
      "",
      `  Dashboard:  ${publicUrl}`,
      `  Sign in:    ${loginUrl}`,
      `  API token:  ${loginToken}   (POST /auth/login {"token": …} for scripts)`,
      offline
        ? "  Model:      offline demo (scripted) — set ANTHROPIC_API_KEY or OPENAI_API_KEY for a real model"
        : `  Models:     ${models.join(", ")}`,
      `  Slack:      ${slackSummary}`,
      "",
      "  Press Ctrl+C to stop.",
      "",
    ].join("\n"),
  );
  if (process.env.LOOKOUT_LOGIN_URL_FILE) writeFileSync(process.env.LOOKOUT_LOGIN_URL_FILE, loginUrl);
}

main().catch((error: unknown) => {
  say(error instanceof Error ? error.message : String(error));
  void stop(1);
});
