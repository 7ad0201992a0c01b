/**
 * `npm run deploy -- --env staging|production [--public-url https://…] [--dry-run]`: Lookout on
 * Cloudflare in one command (docs/deploy.md). In order, each step idempotent:
 *
 * 1. `wrangler whoami`: without a Cloudflare login it stops here, saying what to run.
 * 2. The D1 database `lookout-<env>`: reused when it exists, created otherwise.
 * 3. The environment's wrangler config (`.lookout/deploy/wrangler.<env>.toml`, not committed) with the
 *    database's id and the public URL, which is remembered in `.lookout/deploy/<env>.json`.
 * 4. D1 migrations applied remotely (wrangler skips those already applied).
 * 5. The dashboard, the bridge and the gateway container's context built; the Worker bundled once
 *    (`wrangler deploy --dry-run`), its compressed size printed and held under the limit.
 * 6. Secrets: the Worker's own (socket, encryption, service and git keys, the admin login) generated
 *    only when the Worker lacks them, never printed; the operator's (sandbox provider, model keys,
 *    integrations) read from this process's environment. Each is sent only when absent or changed
 *    (a SHA-256 of what was sent is kept locally), together with the code in one `wrangler deploy`.
 * 7. `wrangler deploy`, skipped when the bundle, config and secrets are what the last run deployed.
 *
 * `--dry-run` stops after step 5 and needs no login: it is what CI runs for every environment.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { githubAppManifest, githubManifestPage, githubManifestProblems, slackAppManifest, slackManifestProblems } from "./app-manifests.ts";
import {
  buildGatewayContext,
  DEPLOY_ENVIRONMENTS,
  type DeployEnvironment,
  dockerContextProblems,
  formatKiB,
  GATEWAY_CONTEXT,
  gzipBytesFromWranglerOutput,
  WORKER_GZIP_LIMIT_BYTES,
  writeDeployConfig,
} from "./deploy-artifacts.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const controlPlane = join(root, "apps", "control-plane");
/** Where the dry-run config lives: the placeholders are never deployed, so CI needs no account. */
const PLACEHOLDER_DATABASE_ID = "00000000-0000-0000-0000-000000000000";

/** Secrets the deploy creates when the Worker lacks them; rotating them is a deliberate act (docs/deploy.md). */
const GENERATED_SECRETS = {
  WS_TOKEN_SECRET: () => randomBytes(32).toString("base64url"),
  SECRETS_ENCRYPTION_KEYS: () => `k1:${randomBytes(32).toString("base64")}`,
  GATEWAY_SERVICE_SECRET: () => randomBytes(32).toString("base64url"),
  GIT_CREDENTIAL_SECRET: () => randomBytes(32).toString("base64url"),
} as const;

/**
 * Secrets taken from the deploying shell when set. Gateway settings travel as `GATEWAY_ENV_<NAME>`
 * and reach the gateway container as `<NAME>` (apps/control-plane/src/gateway-container.ts).
 */
const GATEWAY_SETTINGS = [
  "LOOKOUT_SANDBOX_PROVIDER",
  "MODAL_TOKEN_ID",
  "MODAL_TOKEN_SECRET",
  "MODAL_ENVIRONMENT",
  "DAYTONA_API_KEY",
  "DAYTONA_API_URL",
  "DAYTONA_TARGET",
  "LOOKOUT_DAYTONA_SNAPSHOT",
  "VERCEL_TOKEN",
  "VERCEL_TEAM_ID",
  "VERCEL_PROJECT_ID",
  "LOOKOUT_VERCEL_BASE_SNAPSHOT_ID",
  "ANTHROPIC_API_KEY",
  "OPENAI_API_KEY",
  "LOOKOUT_SMALL_MODEL",
];
/** Worker secrets of the integrations, passed as they are named; those not set stay unset (their routes refuse). */
const WORKER_SETTINGS = /^(GITHUB_|SLACK_|LINEAR_|SENTRY_|ALLOWED_GITHUB_|ADMIN_GITHUB_|SERVICE_SECRET_)/;

interface State {
  publicUrl?: string;
  /** SHA-256 of each secret value this machine sent, to send only what changed. */
  secretHashes: Record<string, string>;
  /** What the last deploy sent: bundle, config and secret hashes together. */
  deployed?: string;
}

function say(text: string): void {
  process.stderr.write(`\x1b[1;34m[deploy]\x1b[0m ${text}\n`);
}

function stop(text: string): never {
  process.stderr.write(`\x1b[1;31m[deploy]\x1b[0m ${text}\n`);
  process.exit(1);
}

interface Ran {
  code: number;
  output: string;
}

/** Runs wrangler from the control plane (where it is installed) with `input` on stdin; output is collected, not shown. */
function wrangler(args: string[], input?: string): Promise<Ran> {
  return run("pnpm", ["exec", "wrangler", ...args], { cwd: controlPlane, input });
}

function run(command: string, args: string[], options: { cwd?: string; input?: string; show?: boolean } = {}): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let output = "";
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (options.show) process.stderr.write(chunk);
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    if (options.input !== undefined) child.stdin?.end(options.input);
    child.on("error", (error) => (output += `\n${error.message}\n`));
    child.on("close", (code) => done({ code: code ?? 1, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "") }));
  });
}

/** Where wrangler's JSON begins: the first line opening an array (warnings such as `▲ [WARNING]` come before it). */
function jsonStart(output: string): number {
  const at = output.search(/^\[/m);
  return at < 0 ? output.length : at;
}

function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

function readState(path: string): State {
  if (!existsSync(path)) return { secretHashes: {} };
  return { secretHashes: {}, ...(JSON.parse(readFileSync(path, "utf8")) as Partial<State>) };
}

function writeState(path: string, state: State): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

async function checkLogin(): Promise<void> {
  say("1/7 checking the Cloudflare login (wrangler whoami)");
  const who = await wrangler(["whoami"]);
  if (who.code !== 0 || /not authenticated/i.test(who.output)) {
    stop(
      [
        "Not signed in to Cloudflare, so nothing was changed. Run:",
        "    pnpm --filter @lookout/control-plane exec wrangler login",
        "(or set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID for a token with Workers, D1 and Containers edit rights),",
        "then run `npm run deploy` again.",
        ...(who.code !== 0 ? [`wrangler said: ${who.output.trim().split("\n").slice(-3).join(" ")}`] : []),
      ].join("\n"),
    );
  }
}

async function database(environment: DeployEnvironment): Promise<string> {
  const name = `lookout-${environment}`;
  say(`2/7 D1 database ${name}`);
  const find = async () => {
    const list = await wrangler(["d1", "list", "--json"]);
    if (list.code !== 0) stop(`Could not list D1 databases:\n${list.output}`);
    const databases = JSON.parse(list.output.slice(jsonStart(list.output))) as { name: string; uuid: string }[];
    return databases.find((entry) => entry.name === name)?.uuid;
  };
  const existing = await find();
  if (existing) return existing;
  const created = await wrangler(["d1", "create", name]);
  if (created.code !== 0) stop(`Could not create the D1 database ${name}:\n${created.output}`);
  return (await find()) ?? stop(`Created ${name}, but it is not listed; run \`npm run deploy\` again.`);
}

async function migrate(environment: DeployEnvironment, config: string): Promise<void> {
  say("4/7 applying D1 migrations remotely");
  const applied = await wrangler(["d1", "migrations", "apply", "DB", "--remote", "--env", environment, "-c", config], "y\n");
  if (applied.code !== 0) stop(`D1 migrations failed; the Worker was not deployed:\n${applied.output}`);
}

/** Builds everything the deploy uploads and bundles the Worker once; returns the bundle's hash. */
async function build(environment: DeployEnvironment, config: string): Promise<string> {
  say("5/7 building the dashboard, the bridge and the gateway container's context");
  const turbo = await run("pnpm", ["exec", "turbo", "run", "build", "--output-logs=errors-only"], { show: true });
  if (turbo.code !== 0) stop("The build failed (see above).");
  await buildGatewayContext(root);
  const context = join(root, GATEWAY_CONTEXT);
  const problems = dockerContextProblems(join(context, "Dockerfile"), context);
  if (problems.length) stop(`The gateway image would not build:\n  ${problems.join("\n  ")}`);
  const outdir = join(root, ".lookout", "deploy", `bundle-${environment}`);
  rmSync(outdir, { recursive: true, force: true });
  const dry = await wrangler(["deploy", "--dry-run", "--env", environment, "-c", config, "--outdir", outdir, "--containers-rollout=none"]);
  if (dry.code !== 0) stop(`wrangler could not bundle the Worker:\n${dry.output}`);
  const gzip = gzipBytesFromWranglerOutput(dry.output) ?? stop(`wrangler printed no bundle size:\n${dry.output}`);
  const verdict = gzip <= WORKER_GZIP_LIMIT_BYTES ? "within" : "OVER";
  say(`   Worker bundle: ${formatKiB(gzip)} compressed, ${verdict} the ${formatKiB(WORKER_GZIP_LIMIT_BYTES)} limit`);
  if (gzip > WORKER_GZIP_LIMIT_BYTES) stop("The Worker is larger than Cloudflare allows; nothing was deployed.");
  return sha256(readFileSync(join(outdir, "index.js")));
}

/** Writes the GitHub App manifest for this URL with the page that creates the App, and the Slack app manifest. */
async function writeAppManifests(environment: DeployEnvironment, publicUrl: string): Promise<string> {
  const manifest = githubAppManifest(publicUrl, environment);
  const problems = await githubManifestProblems(root, manifest);
  if (problems.length) stop(`The GitHub App manifest is invalid:\n  ${problems.join("\n  ")}`);
  const page = join(root, ".lookout", "deploy", `github-app-${environment}.html`);
  mkdirSync(dirname(page), { recursive: true });
  writeFileSync(join(root, ".lookout", "deploy", `github-app-${environment}.json`), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(page, githubManifestPage(manifest, process.env.GITHUB_ORGANIZATION));
  const slack = slackAppManifest(root, publicUrl);
  const slackProblems = slackManifestProblems(slack, publicUrl);
  if (slackProblems.length) stop(`The Slack app manifest is invalid:\n  ${slackProblems.join("\n  ")}`);
  writeFileSync(join(root, ".lookout", "deploy", `slack-app-${environment}.yaml`), slack);
  return page;
}

/**
 * The new GitHub App's credentials from the code GitHub appends to the manifest flow's redirect
 * (`?code=…`, valid for an hour): GitHub's manifest conversion needs no other credential.
 */
async function githubAppSecrets(code: string): Promise<Record<string, string>> {
  const response = await fetch(`https://api.github.com/app-manifests/${encodeURIComponent(code)}/conversions`, {
    method: "POST",
    headers: { accept: "application/vnd.github+json", "user-agent": "lookout-deploy" },
  });
  if (!response.ok)
    stop(`GitHub refused the manifest code (${response.status}); codes last an hour, so create the App again from the page.`);
  const app = (await response.json()) as { id: number; pem: string; webhook_secret: string; client_id: string; client_secret: string };
  return {
    GITHUB_APP_ID: String(app.id),
    GITHUB_APP_PRIVATE_KEY: app.pem,
    GITHUB_WEBHOOK_SECRET: app.webhook_secret,
    GITHUB_APP_CLIENT_ID: app.client_id,
    GITHUB_APP_CLIENT_SECRET: app.client_secret,
  };
}

async function remoteSecretNames(environment: DeployEnvironment, config: string): Promise<Set<string> | "no-worker"> {
  const listed = await wrangler(["secret", "list", "--env", environment, "-c", config, "--format", "json"]);
  // Before the first deploy there is no Worker to hold secrets (Cloudflare's error 10007).
  if (listed.code !== 0 && /10007|not found/i.test(listed.output)) return "no-worker";
  if (listed.code !== 0) stop(`Could not list the Worker's secrets:\n${listed.output}`);
  return new Set((JSON.parse(listed.output.slice(jsonStart(listed.output))) as { name: string }[]).map((entry) => entry.name));
}

/** The secrets to send with this deploy: generated ones the Worker lacks, and the operator's that changed. */
async function secretsToSend(
  environment: DeployEnvironment,
  config: string,
  state: State,
  extra: Record<string, string>,
): Promise<Record<string, string>> {
  say("6/7 secrets (values are never printed)");
  const remote = await remoteSecretNames(environment, config);
  const has = (name: string) => remote !== "no-worker" && remote.has(name);
  const send: Record<string, string> = {};
  for (const [name, generate] of Object.entries(GENERATED_SECRETS)) if (!has(name)) send[name] = generate();
  if (!has("ADMIN_TOKEN_SHA256")) {
    const loginToken = randomBytes(32).toString("base64url");
    send.ADMIN_TOKEN_SHA256 = sha256(loginToken);
    // The one credential meant for a person: shown once, when it is created.
    say(`   admin login (shown once; keep it): ${state.publicUrl}/auth/login?token=${loginToken}`);
  }
  const operator: Record<string, string> = {};
  for (const name of GATEWAY_SETTINGS) if (process.env[name]) operator[`GATEWAY_ENV_${name}`] = process.env[name];
  for (const [name, value] of Object.entries(process.env)) if (WORKER_SETTINGS.test(name) && value) operator[name] = value;
  Object.assign(operator, extra);
  for (const [name, value] of Object.entries(operator)) {
    if (!has(name) || state.secretHashes[name] !== sha256(value)) send[name] = value;
  }
  if (!has("GATEWAY_ENV_LOOKOUT_SANDBOX_PROVIDER") && !operator.GATEWAY_ENV_LOOKOUT_SANDBOX_PROVIDER) {
    stop(
      "Choose where sandboxes run: set LOOKOUT_SANDBOX_PROVIDER=modal|daytona|vercel and its credentials (docs/deploy.md), then run again.",
    );
  }
  say(`   ${Object.keys(send).length ? `sending ${Object.keys(send).sort().join(", ")}` : "all present and unchanged"}`);
  return send;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      env: { type: "string", default: "production" },
      "public-url": { type: "string" },
      "github-code": { type: "string" },
      "dry-run": { type: "boolean", default: false },
    },
  });
  const environment = values.env as DeployEnvironment;
  if (!DEPLOY_ENVIRONMENTS.includes(environment)) stop(`--env must be one of ${DEPLOY_ENVIRONMENTS.join(", ")}; got ${values.env}.`);

  if (values["dry-run"]) {
    const config = writeDeployConfig(root, environment, {
      databaseId: PLACEHOLDER_DATABASE_ID,
      publicUrl: `https://lookout-${environment}.invalid`,
    });
    await build(environment, config);
    await writeAppManifests(environment, `https://lookout-${environment}.invalid`);
    say(`dry run of ${environment} finished; nothing was sent to Cloudflare`);
    return;
  }

  const statePath = join(root, ".lookout", "deploy", `${environment}.json`);
  const state = readState(statePath);
  await checkLogin();
  const databaseId = await database(environment);
  const publicUrl = values["public-url"] ?? state.publicUrl;
  if (!publicUrl || !/^https:\/\/[^/]+$/.test(publicUrl)) {
    stop(
      `Say where this Lookout is reached: --public-url https://lookout-${environment}.<your-subdomain>.workers.dev (or your custom domain, no trailing slash). It is remembered for later runs.`,
    );
  }
  state.publicUrl = publicUrl;
  say(`3/7 config .lookout/deploy/wrangler.${environment}.toml (database ${databaseId}, ${publicUrl})`);
  const config = writeDeployConfig(root, environment, { databaseId, publicUrl });
  await migrate(environment, config);
  const bundle = await build(environment, config);
  const page = await writeAppManifests(environment, publicUrl);
  say(`   GitHub App: open ${page} to create it with this URL, then run again with --github-code <code from the address bar>`);
  say(`   Slack app: create it from .lookout/deploy/slack-app-${environment}.yaml (docs/slack.md)`);
  const github = values["github-code"] ? await githubAppSecrets(values["github-code"]) : {};
  const send = await secretsToSend(environment, config, state, github);
  const fingerprint = sha256(JSON.stringify([bundle, readFileSync(config, "utf8"), Object.keys(send).sort()]));
  if (Object.keys(send).length === 0 && state.deployed === fingerprint) {
    say("7/7 nothing changed since the last deploy; not deploying");
    return;
  }
  say("7/7 wrangler deploy");
  const secretsFile = join(root, ".lookout", "deploy", `secrets-${environment}.json`);
  writeFileSync(secretsFile, JSON.stringify(send), { mode: 0o600 });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      rmSync(secretsFile, { force: true });
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
  let deployed: Ran;
  try {
    deployed = await wrangler(["deploy", "--env", environment, "-c", config, "--secrets-file", secretsFile]);
  } finally {
    // Removed before anything else can end the process: the file holds the secrets in clear.
    rmSync(secretsFile, { force: true });
  }
  if (deployed.code !== 0) stop(`wrangler deploy failed:\n${deployed.output}`);
  say(
    deployed.output
      .split("\n")
      .filter((line) => /https:\/\/|Current Version ID/.test(line))
      .join("\n") || "deployed",
  );
  for (const name of Object.keys(send))
    if (!(name in GENERATED_SECRETS) && name !== "ADMIN_TOKEN_SHA256") state.secretHashes[name] = sha256(send[name]!);
  state.deployed = sha256(JSON.stringify([bundle, readFileSync(config, "utf8"), []]));
  writeState(statePath, state);
  say(`done: ${publicUrl}`);
}

await main();
