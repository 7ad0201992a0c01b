/**
 * What a deployment is made of, built and checked without Cloudflare: the gateway container's build
 * context, the per-environment wrangler configuration the deploy writes, and the Worker bundle's
 * size. `scripts/deploy.ts` builds with these; `scripts/test.ts` checks them (and proves each check
 * on a decoy that breaks it).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";

/** Environments `wrangler.toml` declares for deployment (`[env.<name>]`). */
export const DEPLOY_ENVIRONMENTS = ["staging", "production"] as const;
export type DeployEnvironment = (typeof DEPLOY_ENVIRONMENTS)[number];

/**
 * The Worker's compressed size limit on Cloudflare's Free plan. The paid plans allow 10 MiB; holding
 * the bundle under the smaller one keeps every plan open.
 */
export const WORKER_GZIP_LIMIT_BYTES = 3 * 1024 * 1024;

export const GATEWAY_CONTEXT = join("infra", "gateway");

// ---------------------------------------------------------------------------------------------
// The gateway container

/** The slice of esbuild's `build` used here (esbuild is not a dependency of the root scripts). */
type EsbuildBuild = (options: Record<string, unknown>) => Promise<{ metafile: { outputs: Record<string, { bytes: number }> } }>;

/**
 * Bundles the gateway (with its sandbox providers' SDKs) into one file and places it next to the
 * bridge bundle in `infra/gateway/dist/`, the Dockerfile's context. The bridge must be built first
 * (`pnpm --filter @lookout/bridge build`, which setup and the deploy run).
 */
export async function buildGatewayContext(root: string): Promise<{ gatewayBytes: number }> {
  const dist = join(root, GATEWAY_CONTEXT, "dist");
  mkdirSync(dist, { recursive: true });
  const bridge = join(root, "packages", "bridge", "dist", "bridge.mjs");
  if (!existsSync(bridge)) throw new Error(`${relative(root, bridge)} is missing; build it with \`pnpm --filter @lookout/bridge build\`.`);
  copyFileSync(bridge, join(dist, "bridge.mjs"));
  // esbuild is the bridge's build tool; the gateway borrows it rather than pinning a second copy.
  const esbuild = createRequire(join(root, "packages", "bridge", "package.json"))("esbuild") as {
    build: EsbuildBuild;
    stop(): Promise<void>;
  };
  // esbuild keeps a service process until it is stopped; the test gate would count it as left behind.
  const result = await esbuild
    .build({
      entryPoints: [join(root, "apps", "sandbox-gateway", "src", "main.ts")],
      outfile: join(dist, "gateway.mjs"),
      bundle: true,
      platform: "node",
      target: "node22",
      format: "esm",
      // Some provider SDKs are CommonJS and call require() for Node built-ins; ESM output needs a real one.
      banner: {
        js: "import { createRequire as __lookoutCreateRequire } from 'node:module'; const require = __lookoutCreateRequire(import.meta.url);",
      },
      legalComments: "none",
      logLevel: "warning",
      metafile: true,
    })
    .finally(() => esbuild.stop());
  const gatewayBytes = Object.values(result.metafile.outputs).reduce((total, output) => total + output.bytes, 0);
  return { gatewayBytes };
}

/**
 * What keeps a Dockerfile from building in `contextDir` with nothing but its base images: a `COPY`
 * or `ADD` source missing from the context or left out by `.dockerignore`, or an `ADD` of a URL.
 * (Base images and the packages `RUN` installs are fetched at build time by design.)
 */
export function dockerContextProblems(dockerfile: string, contextDir: string): string[] {
  const ignore = existsSync(join(contextDir, ".dockerignore")) ? readFileSync(join(contextDir, ".dockerignore"), "utf8") : "";
  const problems: string[] = [];
  for (const instruction of dockerInstructions(readFileSync(dockerfile, "utf8"))) {
    const [keyword, ...words] = instruction.split(/\s+/);
    const upper = keyword?.toUpperCase();
    if (upper !== "COPY" && upper !== "ADD") continue;
    const args = words.filter((word) => !word.startsWith("--"));
    if (words.some((word) => word.startsWith("--from="))) continue;
    for (const source of args.slice(0, -1)) {
      if (/^[a-z]+:\/\//i.test(source)) problems.push(`${upper} ${source}: fetched from the network at build time`);
      else if (!existsSync(join(contextDir, source))) problems.push(`${upper} ${source}: not in the build context ${contextDir}`);
      else if (dockerIgnored(ignore, source)) problems.push(`${upper} ${source}: excluded by .dockerignore`);
    }
  }
  return problems;
}

/** The instructions of a Dockerfile, comments dropped and continuation lines joined. */
function dockerInstructions(text: string): string[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
}

/** `.dockerignore` semantics for the patterns this repository uses: `*`, exact paths and `!` exceptions, last match wins. */
function dockerIgnored(ignoreFile: string, path: string): boolean {
  let ignored = false;
  for (const raw of ignoreFile.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    const pattern = negated ? line.slice(1) : line;
    const matches = pattern === "*" || pattern === "**" || pattern === path || path.startsWith(`${pattern}/`);
    if (matches) ignored = !negated;
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------------
// wrangler.toml environments

/** The names a config section binds: its `name`/`binding` values, or the keys of a `vars` table. */
function boundNames(text: string): Map<string, Set<string>> {
  const sections = new Map<string, Set<string>>();
  let section = "";
  for (const line of text.split("\n")) {
    const header = /^\[\[?([^\]]+)\]\]?\s*$/.exec(line.trim());
    if (header) {
      section = header[1]!.trim();
      continue;
    }
    const entry = /^([A-Za-z_][\w]*)\s*=/.exec(line.trim());
    if (!entry) continue;
    const kind = section.replace(/^env\.[\w-]+\./, "");
    const key = `${section.startsWith("env.") ? section.split(".")[1] : ""}|${kind}`;
    const names = sections.get(key) ?? new Set<string>();
    if (kind === "vars") names.add(entry[1]!);
    else if ((kind === "durable_objects.bindings" && entry[1] === "name") || (kind !== "vars" && entry[1] === "binding")) {
      names.add(/=\s*"([^"]+)"/.exec(line)?.[1] ?? "");
    }
    sections.set(key, names);
  }
  return sections;
}

/**
 * Bindings and variables the local default has that an environment lacks. Wrangler does not inherit
 * them into environments, so a binding added to the top of `wrangler.toml` alone would be missing
 * from every deployment.
 */
export function environmentGaps(wranglerToml: string, environments: readonly string[] = DEPLOY_ENVIRONMENTS): string[] {
  const names = boundNames(wranglerToml);
  const gaps: string[] = [];
  for (const environment of environments) {
    for (const [key, topLevel] of names) {
      const [scope, kind] = key.split("|") as [string, string];
      if (scope !== "") continue;
      const own = names.get(`${environment}|${kind}`) ?? new Set<string>();
      for (const name of topLevel) if (!own.has(name)) gaps.push(`[env.${environment}] lacks ${kind} ${name}`);
    }
  }
  return gaps;
}

export interface DeploySettings {
  /** The D1 database's id, from `wrangler d1 create` or `wrangler d1 info`. */
  databaseId: string;
  /** The Worker's public https:// URL (its workers.dev address or a custom domain). */
  publicUrl: string;
}

/**
 * `wrangler.toml` with one environment's placeholders filled (its D1 id, `PUBLIC_URL` and the gateway's
 * public URL under it), written to
 * `.lookout/deploy/wrangler.<env>.toml` with its paths pointing back at the repository. Returns the path.
 */
export function writeDeployConfig(root: string, environment: DeployEnvironment, settings: DeploySettings): string {
  const out = join(root, ".lookout", "deploy", `wrangler.${environment}.toml`);
  const back = relative(dirname(out), root);
  let section = "";
  const lines = readFileSync(join(root, "wrangler.toml"), "utf8")
    .split("\n")
    .map((line) => {
      const header = /^\[\[?([^\]]+)\]\]?\s*$/.exec(line.trim());
      if (header) section = header[1]!.trim();
      // Paths: the keys that always hold one, and any value written as a relative path (e.g. [alias]).
      const path =
        /^(main|directory|migrations_dir|image|image_build_context)\s*=\s*"([^"]+)"\s*$/.exec(line) ??
        /^(\w+)\s*=\s*"(\.\.?\/[^"]*)"\s*$/.exec(line);
      if (path) return `${path[1]} = ${JSON.stringify(join(back, path[2]!))}`;
      if (section === `env.${environment}.d1_databases` && /^database_id\s*=/.test(line)) {
        return `database_id = ${JSON.stringify(settings.databaseId)}`;
      }
      if (section === `env.${environment}.vars` && /^PUBLIC_URL\s*=/.test(line))
        return `PUBLIC_URL = ${JSON.stringify(settings.publicUrl)}`;
      if (section === `env.${environment}.vars` && /^GATEWAY_PUBLIC_URL\s*=/.test(line)) {
        return `GATEWAY_PUBLIC_URL = ${JSON.stringify(`${settings.publicUrl}/gateway`)}`;
      }
      return line;
    });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `# Written by scripts/deploy.ts from wrangler.toml; edit that file, not this one.\n${lines.join("\n")}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The Worker bundle

/** The compressed size wrangler reports (`Total Upload: … KiB / gzip: … KiB`), in bytes. */
export function gzipBytesFromWranglerOutput(output: string): number | undefined {
  const match = /Total Upload:\s*[\d.]+\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(output);
  return match ? Math.round(Number(match[1]) * 1024) : undefined;
}

export function formatKiB(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
