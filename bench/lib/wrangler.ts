import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { freePort, ManagedProcess, waitForHttp } from "./processes.ts";

export const HOST = "127.0.0.1";
/** First start compiles the Worker and boots workerd; a cold machine needs a while. */
const STARTUP_TIMEOUT_MS = 120_000;

/** Keeps wrangler offline and its output plain. */
const QUIET_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1", CI: "true" } as const;

/** `node …/wrangler.js`, run directly so the PID we hold is wrangler's own (an npx wrapper would orphan workerd). */
function wranglerScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

export interface WranglerDevOptions {
  /** Label for logs and errors. */
  name: string;
  configPath: string;
  persistTo: string;
  /** Non-secret variables, passed with `--var`; secrets belong in a `.dev.vars` next to the config. */
  vars: Record<string, string>;
  logFile: string;
  /** A path that answers below 500 once the Worker is ready. */
  readyPath: string;
  /** The port to listen on; pick it first (`freePort`) when the Worker must know its own URL. */
  port?: number;
}

export interface WranglerDev {
  url: string;
  /** The DevTools inspector (`/json` lists the Worker's targets), for profiling a run. */
  inspectorUrl: string;
  process: ManagedProcess;
}

/**
 * Runs `wrangler dev` on a frozen bundle of the config's Worker. Left to itself, wrangler dev
 * watches the sources and restarts the Worker, dropping every WebSocket, whenever a file changes;
 * a benchmark must measure one version of the code even while someone edits the tree.
 */
export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  freezeWorker(options.configPath);
  const port = options.port ?? (await freePort());
  const inspectorPort = await freePort();
  const args = [
    wranglerScript(),
    "dev",
    "--config",
    options.configPath,
    "--ip",
    HOST,
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    options.persistTo,
    "--show-interactive-dev-session=false",
    "--no-bundle",
    ...Object.entries(options.vars).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
  const child = ManagedProcess.start(options.name, process.execPath, args, {
    cwd: dirname(options.configPath),
    env: { ...process.env, ...QUIET_ENV },
    logFile: options.logFile,
  });
  const url = `http://${HOST}:${port}`;
  try {
    await waitForHttp(`${url}${options.readyPath}`, child, STARTUP_TIMEOUT_MS);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url, inspectorUrl: `http://${HOST}:${inspectorPort}`, process: child };
}

/** Bundles the config's Worker into `bundle/` next to it and points the config's `main` at the bundle. */
function freezeWorker(configPath: string): void {
  const outDir = join(dirname(configPath), "bundle");
  const result = spawnSync(process.execPath, [wranglerScript(), "deploy", "--dry-run", "--outdir", outDir, "--config", configPath], {
    cwd: dirname(configPath),
    env: { ...process.env, ...QUIET_ENV },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`bundling the Worker of ${configPath} failed:\n${result.stdout}\n${result.stderr}`);
  const bundles = readdirSync(outDir).filter((file) => file.endsWith(".js"));
  if (bundles.length !== 1) throw new Error(`expected one bundle in ${outDir}, found: ${bundles.join(", ") || "none"}`);
  copyConfig(configPath, dirname(configPath), { main: join(outDir, bundles[0]!) });
}

/** Applies the D1 migrations of `binding` to the local database under `persistTo`. */
export function applyD1Migrations(configPath: string, binding: string, persistTo: string): void {
  const result = spawnSync(
    process.execPath,
    [wranglerScript(), "d1", "migrations", "apply", binding, "--local", "--config", configPath, "--persist-to", persistTo],
    {
      cwd: dirname(configPath),
      env: { ...process.env, ...QUIET_ENV },
      encoding: "utf8",
    },
  );
  if (result.status !== 0) throw new Error(`D1 migrations failed:\n${result.stdout}\n${result.stderr}`);
}

/** Config keys whose values are paths relative to the config file. */
const PATH_KEYS = new Set(["main", "migrations_dir", "directory"]);

/**
 * Copies a wrangler config into `workDir` with its paths made absolute, so wrangler reads the
 * `.dev.vars` and writes the build output of that directory, never the developer's. Whole tables
 * (`[assets]`) can be dropped and `main` replaced. Only the simple `key = "value"` lines the repository's configs use
 * are rewritten; a config without a `main` line is refused rather than half-copied.
 */
export function copyConfig(sourcePath: string, workDir: string, options: { dropSections?: readonly string[]; main?: string } = {}): string {
  const sourceDir = dirname(sourcePath);
  const dropped = new Set(options.dropSections ?? []);
  let section = "";
  let sawMain = false;
  const lines: string[] = [];
  for (const line of readFileSync(sourcePath, "utf8").split("\n")) {
    const header = /^\[\[?([^\]]+)\]\]?\s*$/.exec(line);
    if (header) section = header[1]!.trim();
    if (dropped.has(section)) continue;
    const entry = /^(\w+)\s*=\s*"(.+)"\s*$/.exec(line);
    if (entry && PATH_KEYS.has(entry[1]!)) {
      sawMain ||= entry[1] === "main";
      const path = entry[1] === "main" && options.main ? resolve(options.main) : resolve(sourceDir, entry[2]!);
      lines.push(`${entry[1]} = ${JSON.stringify(path)}`);
    } else {
      lines.push(line);
    }
  }
  if (!sawMain) throw new Error(`${sourcePath} has no \`main = "…"\` line to copy`);
  const configPath = join(workDir, "wrangler.toml");
  writeFileSync(configPath, lines.join("\n"));
  return configPath;
}
