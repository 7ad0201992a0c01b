import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LookoutError } from "@lookout/protocol";

/** Config keys whose values are paths relative to the config file. */
const PATH_KEYS = new Set(["main", "migrations_dir", "directory"]);

/** `[alias]` values that start with `.` are paths relative to the config file too (others are package names). */
const isAliasPath = (section: string, value: string) => section === "alias" && value.startsWith(".");

export interface CopyConfigOptions {
  /** Tables to leave out, e.g. `["assets"]` for a Worker that needs no static files. */
  dropSections?: readonly string[];
  /** Another entry module (an absolute path) instead of the config's `main`. */
  main?: string;
}

/**
 * Copies a wrangler config into `workDir` with its paths made absolute, so wrangler reads the
 * `.dev.vars` and writes the build output of that directory, never the developer's. Only the simple
 * `key = "value"` lines the repository's configs use are rewritten; a config without a `main` line
 * is refused rather than half-copied. Returns the copy's path.
 */
export function copyWranglerConfig(sourcePath: string, workDir: string, options: CopyConfigOptions = {}): string {
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
    if (entry && (PATH_KEYS.has(entry[1]!) || isAliasPath(section, entry[2]!))) {
      sawMain ||= entry[1] === "main" && section === "";
      const path = entry[1] === "main" && options.main ? resolve(options.main) : resolve(sourceDir, entry[2]!);
      lines.push(`${entry[1]} = ${JSON.stringify(path)}`);
    } else {
      lines.push(line);
    }
  }
  if (!sawMain) throw new LookoutError("VALIDATION_FAILED", `${sourcePath} has no top-level \`main = "…"\` line to copy`);
  const configPath = join(workDir, "wrangler.toml");
  writeFileSync(configPath, lines.join("\n"));
  return configPath;
}
