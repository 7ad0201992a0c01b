/**
 * The one gate: `npm test` (and CI, through `.ci/run`) runs this after `scripts/setup.sh`.
 *
 * 1. Static checks, each reported even when an earlier one failed: the format check, type-checked
 *    lint, `tsc` for every package and the root scripts, the Worker's `Env` against what
 *    `wrangler types` generates from `wrangler.toml`, and the dependency rules (first over the
 *    repository, then over a throwaway tree that breaks every rule once, so a rule that stops
 *    matching fails the run instead of passing quietly).
 *    Then the deploy artefacts, offline: `wrangler deploy --dry-run` for every environment with the
 *    Worker's compressed size printed and held under Cloudflare's limit, every environment carrying
 *    the local default's bindings, the gateway image's context holding what its Dockerfile copies,
 *    the GitHub App manifest valid against GitHub's parameters and Octokit's event names, and the
 *    Slack app manifest pointing at the deployment's Slack routes.
 * 2. Every package's tests through turbo, one package at a time (sandboxes and workerd share two
 *    cores in CI), with `--continue` so one failing package does not hide the others.
 * 3. What the run must not leave behind: a change to the checkout, or a process. Processes are
 *    watched from the run's first moment (`scripts/leftover-processes.ts`: the environment marker,
 *    the run's process tree, sessions and groups, and bubblewrap, workerd, OpenCode or git's HTTP
 *    backend started during the run and held by no other program), and the rules are proven first
 *    on decoys that break each of them, like the dependency rules.
 *
 * It ends with one line per check and per package, then one vitest-style closing line. Every reason
 * the run fails shows in that line, and the exit code is 0 exactly when the line reports no failure:
 * a package that was expected (it has a `test` script) but printed no counts, or exited non-zero
 * without a failed test, counts as one failed test.
 *
 * Extra arguments go to `turbo run test` (e.g. `--filter=@lookout/web`); the checks always run.
 * `--checks-only` runs the checks and skips the tests (a quick look before pushing, not the gate).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { githubAppManifest, githubManifestProblems, slackAppManifest, slackManifestProblems } from "./app-manifests.ts";
import {
  buildGatewayContext,
  DEPLOY_ENVIRONMENTS,
  dockerContextProblems,
  environmentGaps,
  formatKiB,
  GATEWAY_CONTEXT,
  gzipBytesFromWranglerOutput,
  WORKER_GZIP_LIMIT_BYTES,
  writeDeployConfig,
} from "./deploy-artifacts.ts";
import { LEFTOVER_RULES, proveLeftoverRules, RunProcesses, stopProcesses } from "./leftover-processes.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const checksOnly = process.argv.includes("--checks-only");
const turboArgs = process.argv.slice(2).filter((arg) => arg !== "--checks-only");

/** Every process this run starts carries this variable, so any left running afterwards can be found. */
const RUN_MARKER = "LOOKOUT_TEST_RUN";
const runId = randomUUID();
const childEnv: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "1", WRANGLER_SEND_METRICS: "false", [RUN_MARKER]: runId };
/** How long leftover processes get to exit on SIGTERM before SIGKILL. */
const LEFTOVER_GRACE_MS = 5_000;
/** What the run starts, watched from its first moment (Linux); undefined where there is no /proc. */
const watch = existsSync("/proc/self/stat") ? new RunProcesses({ name: RUN_MARKER, value: runId }) : undefined;

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const color = process.stdout.isTTY || Boolean(process.env.FORCE_COLOR);
const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const PASS = paint(32, "✓");
const FAIL = paint(31, "✗");

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  ms?: number;
}
const checks: Check[] = [];

// ---------------------------------------------------------------------------------------------
// Running commands

const running = new Set<ChildProcess>();

interface Ran {
  code: number;
  /** Everything the command printed, colour codes removed. */
  output: string;
  ms: number;
}

/**
 * Runs a command in its own process group with its output streamed through, and collects that
 * output for the summary. `quiet` collects without streaming.
 */
function run(
  command: string,
  args: string[],
  options: { cwd?: string; quiet?: boolean; onLine?: (line: string) => void } = {},
): Promise<Ran> {
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: options.cwd ?? root, env: childEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
    watch?.adopt(child.pid);
    running.add(child);
    let output = "";
    let pending = "";
    const take = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      if (!options.quiet) stream.write(chunk);
      const text = chunk.toString();
      output += text;
      if (!options.onLine) return;
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) options.onLine(line.replace(ANSI, ""));
    };
    child.stdout.on("data", take(process.stdout));
    child.stderr.on("data", take(process.stderr));
    child.on("error", (error) => {
      output += `\n${error.message}\n`;
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      if (pending && options.onLine) options.onLine(pending.replace(ANSI, ""));
      done({ code: code ?? (signal ? 128 : 1), output: output.replace(ANSI, ""), ms: performance.now() - started });
    });
  });
}

function interrupt(signal: NodeJS.Signals): void {
  for (const child of running) if (child.pid) killGroup(child.pid, "SIGTERM");
  process.exit(signal === "SIGINT" ? 130 : 143);
}
process.on("SIGINT", interrupt);
process.on("SIGTERM", interrupt);

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function heading(text: string): void {
  process.stdout.write(`\n${paint(1, `▸ ${text}`)}\n`);
}

const pnpm = "pnpm";

// ---------------------------------------------------------------------------------------------
// Static checks

async function formatCheck(): Promise<void> {
  heading("format: prettier --check .");
  const result = await run(pnpm, ["run", "--silent", "format:check"]);
  const files = result.output.split("\n").filter((line) => /^\[warn\] (?!Code style issues)/.test(line));
  checks.push({
    name: "format",
    ok: result.code === 0,
    detail:
      result.code === 0 ? "" : files.length ? `${files.length} ${plural(files.length, "file")} not formatted` : `exited ${result.code}`,
    ms: result.ms,
  });
}

async function lintCheck(): Promise<void> {
  heading("lint: eslint (typescript-eslint, type-checked rules)");
  const result = await run(pnpm, ["run", "--silent", "lint"]);
  const problems = /✖ \d+ problems? \((\d+) errors?, (\d+) warnings?\)/.exec(result.output);
  const detail = problems
    ? [
        Number(problems[1]) ? `${problems[1]} ${plural(Number(problems[1]), "error")}` : "",
        Number(problems[2]) ? `${problems[2]} ${plural(Number(problems[2]), "warning")}` : "",
      ]
        .filter(Boolean)
        .join(", ")
    : `exited ${result.code}`;
  checks.push({ name: "lint", ok: result.code === 0, detail: result.code === 0 ? "" : detail, ms: result.ms });
}

async function typeCheck(): Promise<void> {
  heading("typecheck: tsc --noEmit in every package, and the root scripts");
  const packages = await run(pnpm, ["run", "--silent", "typecheck"]);
  const failed = turboFailures(packages.output, "typecheck");
  if (packages.code !== 0 && failed.length === 0) failed.push(`turbo exited ${packages.code}`);
  const scripts = await run(pnpm, ["run", "--silent", "typecheck:scripts"]);
  if (scripts.code !== 0) failed.push("scripts/");
  checks.push({ name: "typecheck", ok: failed.length === 0, detail: failed.join(", "), ms: packages.ms + scripts.ms });
}

/**
 * The Worker's `Env` (`apps/control-plane/src/env.ts`) must have every binding and `[vars]` entry
 * that `wrangler types` generates from `wrangler.toml`, with the same type. The generated interface
 * is pasted into a scratch file next to a type-level comparison, which `tsc` then checks with the
 * control plane's own compiler options.
 */
async function envCheck(): Promise<void> {
  heading("env: the Worker's Env against `wrangler types`");
  const controlPlane = join(root, "apps", "control-plane");
  // Inside node_modules so the control plane's type packages resolve and nothing shows in git.
  const scratch = join(controlPlane, "node_modules", ".cache", "lookout-env-check");
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const generatedPath = join(scratch, "generated.d.ts");
  const generate = await run(
    pnpm,
    ["exec", "wrangler", "types", generatedPath, "-c", join(root, "wrangler.toml"), "--include-runtime=false", "--strict-vars=false"],
    { cwd: controlPlane, quiet: true },
  );
  const body = generate.code === 0 ? /^interface \w+ \{\n([\s\S]*?)\n\}/m.exec(readFileSync(generatedPath, "utf8"))?.[1] : undefined;
  if (body === undefined) {
    process.stdout.write(generate.output);
    const detail = generate.code === 0 ? "could not read the interface wrangler generated" : `wrangler types exited ${generate.code}`;
    checks.push({ name: "env", ok: false, detail, ms: generate.ms });
    return;
  }
  writeFileSync(
    join(scratch, "env-check.ts"),
    [
      `import type { Env } from "../../../src/env.ts";`,
      `/** What \`wrangler types\` generates from wrangler.toml. */`,
      `interface Generated {\n${body}\n}`,
      `type Shared = keyof Generated & keyof Env;`,
      `type MissingFromEnv = Exclude<keyof Generated, keyof Env>;`,
      // A binding only some environments have is optional in what wrangler generates; compare the types themselves.
      `type TypedDifferently = { [K in Shared]: [NonNullable<Env[K]>] extends [NonNullable<Generated[K]>] ? ([NonNullable<Generated[K]>] extends [NonNullable<Env[K]>] ? never : K) : K }[Shared];`,
      `// A binding named in either error below is in wrangler.toml but not (or typed differently) in src/env.ts.`,
      `export const missingFromEnv: [MissingFromEnv] extends [never] ? "none" : MissingFromEnv = "none";`,
      `export const typedDifferently: [TypedDifferently] extends [never] ? "none" : TypedDifferently = "none";`,
      "",
    ].join("\n"),
  );
  // The control plane's own program gets Node's types (nodejs_compat) through its tests' imports of
  // vitest; this one has no tests, so it names them.
  const ownTypes =
    (JSON.parse(readFileSync(join(controlPlane, "tsconfig.json"), "utf8")) as { compilerOptions?: { types?: string[] } }).compilerOptions
      ?.types ?? [];
  writeFileSync(
    join(scratch, "tsconfig.json"),
    JSON.stringify({
      extends: join(controlPlane, "tsconfig.json"),
      compilerOptions: { noEmit: true, types: [...ownTypes, "node"] },
      include: [],
      files: ["env-check.ts"],
    }),
  );
  const compile = await run(pnpm, ["exec", "tsc", "-p", join(scratch, "tsconfig.json")], { cwd: controlPlane });
  const named = [
    ...compile.output.matchAll(/env-check\.ts\(\d+,\d+\): error TS\d+: Type '"none"' is not assignable to type '([^']+)'/g),
  ].map((m) => m[1]);
  checks.push({
    name: "env",
    ok: compile.code === 0,
    detail:
      compile.code === 0
        ? ""
        : named.length
          ? `src/env.ts disagrees with wrangler.toml on ${named.join(", ")}`
          : "does not compile (see above)",
    ms: generate.ms + compile.ms,
  });
  if (compile.code === 0) rmSync(scratch, { recursive: true, force: true });
}

async function dependencyCheck(): Promise<void> {
  heading("dependencies: dependency-cruiser (.dependency-cruiser.cjs)");
  const real = await run(pnpm, ["run", "--silent", "deps"]);
  const violations = /x (\d+) dependency violations?/.exec(real.output)?.[1];
  const proof = await provenRules();
  const failures = [
    real.code === 0 ? "" : violations ? `${violations} ${plural(Number(violations), "violation")}` : `depcruise exited ${real.code}`,
    proof.unproven.length ? `rules that no longer bite: ${proof.unproven.join(", ")}` : "",
  ].filter(Boolean);
  checks.push({ name: "dependencies", ok: failures.length === 0, detail: failures.join("; "), ms: real.ms + proof.ms });
}

/**
 * Runs the rules over a throwaway tree in which every rule is broken at least once, and returns the
 * rules that did not report. Paths in the tree mirror the repository's, since the rules match on them.
 */
async function provenRules(): Promise<{ unproven: string[]; ms: number }> {
  const config = createRequire(import.meta.url)(join(root, ".dependency-cruiser.cjs")) as { forbidden: { name: string }[] };
  const tree = mkdtempSync(join(tmpdir(), "lookout-deps-"));
  const files: Record<string, string> = {
    "package.json": JSON.stringify({ name: "fixture", private: true, devDependencies: { "dev-only": "1.0.0" } }),
    "tsconfig.base.json": readFileSync(join(root, "tsconfig.base.json"), "utf8"),
    "node_modules/dev-only/package.json": JSON.stringify({ name: "dev-only", version: "1.0.0", main: "index.js" }),
    "node_modules/dev-only/index.js": "module.exports = 1;\n",
    "node_modules/unlisted/package.json": JSON.stringify({ name: "unlisted", version: "1.0.0", main: "index.js" }),
    "node_modules/unlisted/index.js": "module.exports = 1;\n",
    // apps-are-leaves, no-hidden-edges
    "apps/web/src/main.ts": `import "../../control-plane/src/index.ts";\n`,
    // sandbox-only-from-gateway, test-harness-only-from-tests, no-dev-dependencies-in-shipped-source, no-unlisted-packages
    "apps/control-plane/src/index.ts": [
      `import "../../../packages/sandbox/src/index.ts";`,
      `import "../../../packages/e2e/src/index.ts";`,
      `import "dev-only";`,
      `import "unlisted";`,
      "",
    ].join("\n"),
    // protocol-stands-alone
    "packages/protocol/src/index.ts": `import "../../bridge/src/index.ts";\n`,
    // bridge-only-protocol, bridge-ships-few-packages
    "packages/bridge/src/index.ts": `import "../../scripted-model/src/index.ts";\nimport "unlisted";\n`,
    // packages-never-import-apps
    "packages/sandbox/src/index.ts": `import "../../../apps/sandbox-gateway/src/index.ts";\n`,
    // sandbox-image-only-from-sandbox
    "packages/e2e/src/index.ts": `import "../../../infra/sandbox-image/image.ts";\n`,
    "packages/scripted-model/src/index.ts": "export const model = 1;\n",
    "apps/sandbox-gateway/src/index.ts": "export const gateway = 1;\n",
    "infra/sandbox-image/image.ts": "export const image = 1;\n",
    // no-hidden-edges-from-bench
    "bench/run.ts": `import "../packages/scripted-model/src/index.ts";\n`,
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  const depcruise = join(root, "node_modules", ".bin", "depcruise");
  const result = await run(
    depcruise,
    ["--config", join(root, ".dependency-cruiser.cjs"), "--output-type", "json", "apps", "packages", "infra", "bench"],
    {
      cwd: tree,
      quiet: true,
    },
  );
  rmSync(tree, { recursive: true, force: true });
  let seen = new Set<string>();
  try {
    const report = JSON.parse(result.output.slice(result.output.indexOf("{"))) as { summary: { violations: { rule: { name: string } }[] } };
    seen = new Set(report.summary.violations.map((violation) => violation.rule.name));
  } catch {
    process.stdout.write(result.output);
  }
  const unproven = config.forbidden.map((rule) => rule.name).filter((name) => !seen.has(name));
  process.stdout.write(
    unproven.length
      ? `${FAIL} these rules did not report the tree that breaks them: ${unproven.join(", ")}\n`
      : `${PASS} each of the ${config.forbidden.length} rules reports the tree that breaks it\n`,
  );
  return { unproven, ms: result.ms };
}

/**
 * The deploy artefacts without Cloudflare (`scripts/deploy-artifacts.ts`): each environment in
 * `wrangler.toml` has every binding and variable of the local default (wrangler does not inherit
 * them), the gateway container's context holds every file its Dockerfile copies, the GitHub App
 * and Slack app manifests each environment would get are valid, and `wrangler deploy --dry-run`
 * bundles each environment (containers not built: that needs Docker) within Cloudflare's size
 * limit. The rules are first proven on decoys that break them.
 */
async function deployCheck(): Promise<void> {
  heading(`deploy: wrangler deploy --dry-run for ${DEPLOY_ENVIRONMENTS.join(", ")}, bundle size, the gateway image's context`);
  const started = performance.now();
  const failures: string[] = [];
  const wranglerToml = readFileSync(join(root, "wrangler.toml"), "utf8");
  failures.push(...environmentGaps(wranglerToml));
  const decoyGaps = environmentGaps(wranglerToml.replace(/^\[vars\]$/m, '[vars]\nLOOKOUT_DECOY = "1"'));
  if (!decoyGaps.some((gap) => gap.endsWith("vars LOOKOUT_DECOY")))
    failures.push("the environment rule misses a variable only the local default has");

  const context = join(root, GATEWAY_CONTEXT);
  try {
    await buildGatewayContext(root);
    failures.push(...dockerContextProblems(join(context, "Dockerfile"), context));
  } catch (error) {
    failures.push(`the gateway context did not build: ${error instanceof Error ? error.message : String(error)}`);
  }
  const decoy = mkdtempSync(join(tmpdir(), "lookout-docker-"));
  mkdirSync(join(decoy, "dist"));
  writeFileSync(join(decoy, "dist", "ignored.mjs"), "");
  writeFileSync(join(decoy, ".dockerignore"), "*\n!dist/kept.mjs\n");
  writeFileSync(
    join(decoy, "Dockerfile"),
    "FROM scratch\nCOPY dist/missing.mjs /a\nCOPY dist/ignored.mjs /b\nADD https://example.com/x /c\n",
  );
  if (dockerContextProblems(join(decoy, "Dockerfile"), decoy).length !== 3)
    failures.push("the Dockerfile rule misses a decoy's missing, ignored or fetched file");
  rmSync(decoy, { recursive: true, force: true });

  const decoyManifest = { ...githubAppManifest("https://lookout.invalid", "decoy"), default_events: ["pull_request_party"], extra: 1 };
  if ((await githubManifestProblems(root, decoyManifest)).length !== 2)
    failures.push("the GitHub manifest rule misses a decoy's unknown event or parameter");

  const decoySlack = "settings:\n  event_subscriptions:\n    request_url: https://HOST/api/slack/events\n";
  if (slackManifestProblems(decoySlack, "https://lookout.invalid").length !== 2)
    failures.push("the Slack manifest rule misses a decoy's placeholder URL");

  for (const environment of DEPLOY_ENVIRONMENTS) {
    const slackUrl = `https://lookout-${environment}.invalid`;
    failures.push(
      ...slackManifestProblems(slackAppManifest(root, slackUrl), slackUrl).map((problem) => `${environment}: Slack manifest: ${problem}`),
    );
    const manifestProblems = await githubManifestProblems(root, githubAppManifest(`https://lookout-${environment}.invalid`, environment));
    failures.push(...manifestProblems.map((problem) => `${environment}: GitHub App manifest: ${problem}`));
    const config = writeDeployConfig(root, environment, {
      databaseId: "00000000-0000-0000-0000-000000000000",
      publicUrl: `https://lookout-${environment}.invalid`,
    });
    const outdir = join(root, ".lookout", "deploy", `bundle-${environment}`);
    const dry = await run(
      pnpm,
      ["exec", "wrangler", "deploy", "--dry-run", "--env", environment, "-c", config, "--outdir", outdir, "--containers-rollout=none"],
      { cwd: join(root, "apps", "control-plane"), quiet: true },
    );
    const gzip = gzipBytesFromWranglerOutput(dry.output);
    if (dry.code !== 0 || gzip === undefined) {
      process.stdout.write(dry.output);
      failures.push(`${environment}: wrangler deploy --dry-run ${dry.code !== 0 ? `exited ${dry.code}` : "printed no size"}`);
      continue;
    }
    const within = gzip <= WORKER_GZIP_LIMIT_BYTES;
    process.stdout.write(
      `${within ? PASS : FAIL} ${environment}: the Worker is ${formatKiB(gzip)} compressed (limit ${formatKiB(WORKER_GZIP_LIMIT_BYTES)})\n`,
    );
    if (!within) failures.push(`${environment}: the Worker is ${formatKiB(gzip)} compressed, over ${formatKiB(WORKER_GZIP_LIMIT_BYTES)}`);
  }
  for (const failure of failures) process.stdout.write(`${FAIL} ${failure}\n`);
  checks.push({ name: "deploy", ok: failures.length === 0, detail: failures.join("; "), ms: performance.now() - started });
}

// ---------------------------------------------------------------------------------------------
// Tests

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  todo: number;
}
const zero = (): Counts => ({ passed: 0, failed: 0, skipped: 0, todo: 0 });

/** Workspace packages with a `test` script: the ones that must report counts. */
function expectedPackages(): string[] {
  if (turboArgs.length > 0) {
    // A filtered run expects what turbo plans to run.
    const dry = spawnSync(pnpm, ["exec", "turbo", "run", "test", "--dry=json", ...turboArgs], {
      cwd: root,
      encoding: "utf8",
      env: childEnv,
    });
    const plan = JSON.parse(dry.stdout) as { tasks: { package: string; task: string; command: string }[] };
    return plan.tasks.filter((task) => task.task === "test" && task.command !== "<NONEXISTENT>").map((task) => task.package);
  }
  const names: string[] = [];
  for (const folder of workspaceFolders()) {
    const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { name: string; scripts?: Record<string, string> };
    if (manifest.scripts?.test) names.push(manifest.name);
  }
  return names.sort();
}

/** The folders `pnpm-workspace.yaml` names (its `packages:` entries are `dir` or `dir/*`). */
function workspaceFolders(): string[] {
  const patterns = [...readFileSync(join(root, "pnpm-workspace.yaml"), "utf8").matchAll(/^\s+-\s+["']?([^"'\s]+)["']?\s*$/gm)].map(
    (m) => m[1]!,
  );
  return patterns
    .flatMap((pattern) =>
      pattern.endsWith("/*")
        ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
            .filter((entry) => entry.isDirectory())
            .map((entry) => join(root, pattern.slice(0, -2), entry.name))
        : [join(root, pattern)],
    )
    .filter((folder) => existsSync(join(folder, "package.json")));
}

/** Packages turbo names as failed for `task` (its closing `Failed:` line and per-task errors). */
function turboFailures(output: string, task: string): string[] {
  const failed = new Set<string>();
  for (const match of output.matchAll(/^\s*Failed:\s+(.+)$/gm)) {
    for (const id of match[1]!.split(",")) if (id.trim().endsWith(`#${task}`)) failed.add(id.trim().slice(0, -task.length - 1));
  }
  for (const match of output.matchAll(new RegExp(`^(\\S+)#${task}:.* exited \\(\\d+\\)\\s*$`, "gm"))) failed.add(match[1]!);
  return [...failed];
}

async function runTests(): Promise<{ counts: Map<string, Counts>; failed: string[]; code: number }> {
  heading(`tests: turbo run test ${turboArgs.join(" ")}`.trimEnd());
  const counts = new Map<string, Counts>();
  const result = await run(
    pnpm,
    ["exec", "turbo", "run", "test", "--concurrency=1", "--continue", "--output-logs=full", "--log-order=stream", ...turboArgs],
    {
      onLine: (line) => {
        // e.g. "@lookout/web:test:       Tests  41 passed | 1 skipped (42)"; a package may run vitest twice.
        const match = /^(\S+):test:\s+Tests\s+(.*)\((\d+)\)\s*$/.exec(line);
        if (!match) return;
        const total = counts.get(match[1]!) ?? zero();
        for (const label of ["passed", "failed", "skipped", "todo"] as const) {
          total[label] += Number(new RegExp(`(\\d+) ${label}`).exec(match[2]!)?.[1] ?? 0);
        }
        counts.set(match[1]!, total);
      },
    },
  );
  return { counts, failed: turboFailures(result.output, "test"), code: result.code };
}

// ---------------------------------------------------------------------------------------------
// What a run must not leave behind

/** `git status` of every changed or untracked path, with a hash of its contents. */
function treeState(): Map<string, string> | undefined {
  const status = spawnSync("git", ["status", "--porcelain=v1", "-z", "--untracked-files=all"], { cwd: root, encoding: "utf8" });
  if (status.status !== 0) return undefined;
  const state = new Map<string, string>();
  for (const entry of status.stdout.split("\0").filter(Boolean)) {
    const path = entry.slice(3);
    const full = join(root, path);
    let hash = "absent";
    try {
      hash = createHash("sha256").update(readFileSync(full)).digest("hex");
    } catch {
      // Deleted, or a directory (a renamed entry's source): the status code says enough.
    }
    state.set(path, `${entry.slice(0, 2)} ${hash}`);
  }
  return state;
}

function treeCheck(before: Map<string, string> | undefined): void {
  const after = treeState();
  if (!before || !after) {
    checks.push({ name: "tree", ok: true, detail: "not a git checkout; not checked" });
    return;
  }
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((path) => before.get(path) !== after.get(path)).sort();
  const shown = changed.slice(0, 5).join(", ") + (changed.length > 5 ? `, and ${changed.length - 5} more` : "");
  checks.push({ name: "tree", ok: changed.length === 0, detail: changed.length ? `the run changed ${shown}` : "" });
}

/**
 * Proves the leftover rules on decoys before anything else runs, then starts watching; returns the
 * rules that missed their decoy.
 */
async function startWatchingProcesses(): Promise<string[]> {
  if (!watch) return [];
  heading("processes: watched from now to the end of the run");
  const unproven = await proveLeftoverRules(watch, { name: RUN_MARKER, value: runId });
  process.stdout.write(
    unproven.length
      ? `${FAIL} these rules did not find the decoy that breaks them: ${unproven.join(", ")}\n`
      : `${PASS} each of the ${LEFTOVER_RULES.length} leftover rules finds the decoy that breaks it, and the decoys were stopped\n`,
  );
  watch.start();
  return unproven;
}

/** Processes the run left behind (`scripts/leftover-processes.ts`); they are reported, then stopped. */
async function processCheck(unproven: readonly string[]): Promise<void> {
  if (!watch) {
    checks.push({ name: "processes", ok: true, detail: "no /proc here; not checked" });
    return;
  }
  watch.stop();
  const leftovers = watch.find();
  const failures = unproven.length ? [`rules that no longer find their decoy: ${unproven.join(", ")}`] : [];
  if (leftovers.length > 0) {
    process.stdout.write(`\n${FAIL} processes left running by the tests, now stopped:\n`);
    for (const { pid, command, rule } of leftovers) process.stdout.write(`  ${pid}  ${command.slice(0, 200)}  (${rule})\n`);
    await stopProcesses(leftovers, LEFTOVER_GRACE_MS);
    const names = leftovers.map(({ pid, name }) => `${name} (${pid})`);
    failures.unshift(`${leftovers.length} left running: ${names.slice(0, 5).join(", ")}${names.length > 5 ? ", …" : ""}`);
  }
  checks.push({ name: "processes", ok: failures.length === 0, detail: failures.join("; ") });
}

// ---------------------------------------------------------------------------------------------
// The summary

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function describe(counts: Counts): string {
  return [
    counts.failed ? `${counts.failed} failed` : "",
    `${counts.passed} passed`,
    counts.skipped ? `${counts.skipped} skipped` : "",
    counts.todo ? `${counts.todo} todo` : "",
  ]
    .filter(Boolean)
    .join(" | ");
}

async function main(): Promise<void> {
  const before = treeState();
  const unprovenLeftoverRules = await startWatchingProcesses();
  const expected = checksOnly ? [] : expectedPackages();

  await formatCheck();
  await lintCheck();
  await typeCheck();
  await envCheck();
  await dependencyCheck();
  await deployCheck();

  const started = performance.now();
  const tests = checksOnly ? { counts: new Map<string, Counts>(), failed: [], code: 0 } : await runTests();
  const testsMs = performance.now() - started;

  treeCheck(before);
  await processCheck(unprovenLeftoverRules);

  const totals = zero();
  const packageLines: string[] = [];
  const seen = new Set([...expected, ...tests.counts.keys()]);
  for (const name of [...seen].sort()) {
    const counts = tests.counts.get(name);
    const exitedBadly = tests.failed.includes(name);
    let line: string;
    if (!counts) {
      // Expected but silent: it did not run, or crashed before vitest could count.
      totals.failed += 1;
      line = `${FAIL} reported no test counts${exitedBadly ? " and failed" : ""} (counted as 1 failed)`;
    } else {
      for (const label of ["passed", "failed", "skipped", "todo"] as const) totals[label] += counts[label];
      if (exitedBadly && counts.failed === 0) {
        // e.g. a test file that failed to load: vitest counts no failed test but exits 1.
        totals.failed += 1;
        line = `${FAIL} ${describe(counts)}, but exited with an error (counted as 1 failed)`;
      } else {
        line = `${counts.failed || exitedBadly ? FAIL : PASS} ${describe(counts)}`;
      }
    }
    packageLines.push(`  ${name.padEnd(28)} ${line}`);
  }
  if (tests.code !== 0 && totals.failed === 0) {
    checks.push({ name: "turbo", ok: false, detail: `exited ${tests.code} with every package passing` });
  }

  const checkLines = checks.map((check) =>
    [`  ${check.name.padEnd(14)}`, check.ok ? PASS : FAIL, check.detail, check.ms === undefined ? "" : `(${seconds(check.ms)})`]
      .filter(Boolean)
      .join(" "),
  );
  const failedChecks = checks.filter((check) => !check.ok).map((check) => check.name);
  const total = totals.passed + totals.failed + totals.skipped + totals.todo;
  const closing = ` Tests  ${describe(totals)} (${total})${failedChecks.length ? `; failed checks: ${failedChecks.join(", ")}` : ""}`;
  const failed = totals.failed > 0 || failedChecks.length > 0;

  process.stdout.write(
    [
      "",
      paint(1, " Checks"),
      ...checkLines,
      "",
      paint(1, ` Packages (${expected.length} expected; tests took ${seconds(testsMs)})`),
      ...packageLines,
      "",
      paint(failed ? 31 : 32, closing),
      "",
    ].join("\n"),
  );
  process.exit(failed ? 1 : 0);
}

await main();
