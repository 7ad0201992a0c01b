import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Keeps wrangler offline, non-interactive and its output plain. */
export const QUIET_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  NO_COLOR: "1",
  CI: "true",
} as const;

/** `node …/wrangler.js`, run directly so the PID held is wrangler's own (an npx wrapper would orphan workerd). */
function wranglerScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

/**
 * Applies the D1 migrations of `binding` (from the config's `migrations_dir`) to the local database
 * under `persistTo`, the directory the Worker is then started with. Each output line goes to
 * `onLine`; a failure throws with the whole output.
 */
export async function applyD1Migrations(options: {
  config: string;
  persistTo: string;
  binding: string;
  onLine?: (line: string) => void;
}): Promise<void> {
  const args = [wranglerScript(), "d1", "migrations", "apply", options.binding, "--local"];
  args.push("--config", options.config, "--persist-to", options.persistTo);
  const child = spawn(process.execPath, args, {
    cwd: dirname(options.config),
    env: { ...process.env, ...QUIET_ENV },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const take = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    for (const line of text.split("\n")) if (line.trim()) options.onLine?.(line);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== 0) throw new Error(`applying the D1 migrations of ${options.binding} failed (exit ${code}):\n${output}`);
}
