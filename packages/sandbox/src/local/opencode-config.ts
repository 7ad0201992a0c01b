import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, lstat, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { opencodeConfigPackageJson, type SandboxImageDefinition } from "@lookout/sandbox-image";

const execFileAsync = promisify(execFile);

/** Written last into a prepared directory; holds the key of what was installed. */
const MARKER = ".lookout-prepared";
/** How long `npm install` may take before preparing fails. */
const INSTALL_TIMEOUT_MS = 5 * 60_000;

export interface PrepareOpencodeConfigOptions {
  /** The npm CLI to run; `npm` on the PATH by default. */
  readonly npm?: string;
  /** Extra environment for npm (tests point `npm_config_registry` at a fixture). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Identifies one preparation: the image's packages and files, so a changed definition re-prepares. */
export function opencodeConfigKey(image: SandboxImageDefinition): string {
  return createHash("sha256")
    .update(JSON.stringify([image.opencode, opencodeConfigPackageJson(image), image.opencodeConfig.gitignore]))
    .digest("hex");
}

/** True when `dir` holds a finished preparation of `image`'s OpenCode config directory. */
export function isOpencodeConfigPrepared(dir: string, image: SandboxImageDefinition): boolean {
  const marker = join(dir, MARKER);
  return existsSync(marker) && readFileSync(marker, "utf8").trim() === opencodeConfigKey(image);
}

/**
 * Prepares, once, the host directory the local provider binds read-only at the sandbox's
 * `$XDG_CONFIG_HOME/opencode`: what the image definition installs there at build time (see
 * `opencodeConfigCommands`), so that OpenCode finds its plugin package and downloads nothing when a
 * sandbox starts. Idempotent: a directory already prepared for this definition is kept as it is. The
 * work happens in a sibling directory that replaces `dir` only when complete, so a failed or
 * concurrent preparation never leaves a half-installed directory behind. Returns `dir`.
 */
export async function prepareOpencodeConfig(
  dir: string,
  image: SandboxImageDefinition,
  options: PrepareOpencodeConfigOptions = {},
): Promise<string> {
  if (isOpencodeConfigPrepared(dir, image)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  const staging = join(dirname(dir), `.${basename(dir)}.${randomBytes(6).toString("hex")}.partial`);
  try {
    await mkdir(staging);
    await writeFile(join(staging, "package.json"), opencodeConfigPackageJson(image));
    await writeFile(join(staging, ".gitignore"), image.opencodeConfig.gitignore);
    await execFileAsync(options.npm ?? "npm", ["install", "--prefix", staging, "--no-audit", "--no-fund", "--ignore-scripts"], {
      cwd: staging,
      env: { ...process.env, ...options.env },
      timeout: INSTALL_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    await writeFile(join(staging, MARKER), `${opencodeConfigKey(image)}\n`);
    await makeReadOnly(staging);
    // Another gateway may have finished the same preparation meanwhile; keep its directory.
    if (isOpencodeConfigPrepared(dir, image)) return dir;
    if (existsSync(dir)) await removeTree(dir);
    try {
      await rename(staging, dir);
    } catch (error) {
      // Another gateway renamed its directory into place first; it is as good as ours.
      if (!isOpencodeConfigPrepared(dir, image)) throw error;
    }
    return dir;
  } catch (error) {
    throw new Error(`Could not prepare OpenCode's config directory ${dir}: ${describe(error)}`, { cause: error });
  } finally {
    if (existsSync(staging)) await removeTree(staging);
  }
}

/** Drops every write bit, so not even the gateway's own unsandboxed mode changes the shared copy. */
async function makeReadOnly(path: string): Promise<void> {
  const info = await lstat(path);
  // Links (npm's `.bin`) are left alone: chmod would follow them.
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) for (const entry of await readdir(path)) await makeReadOnly(join(path, entry));
  await chmod(path, info.mode & 0o555);
}

/** `rm -r` of a tree whose directories were made read-only. */
async function removeTree(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isDirectory()) {
    await chmod(path, 0o755);
    for (const entry of await readdir(path)) await removeTree(join(path, entry));
  }
  await rm(path, { recursive: true, force: true });
}

function describe(error: unknown): string {
  if (error && typeof error === "object" && "stderr" in error && typeof error.stderr === "string" && error.stderr.trim()) {
    return error.stderr.trim().split("\n").slice(-5).join(" | ");
  }
  return error instanceof Error ? error.message : String(error);
}
