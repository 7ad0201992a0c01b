import { appendFile, mkdir } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import type { Git } from "./git";

/**
 * Keeps what the repository's setup script made (dependencies, build output, caches) out of the
 * agent's commits: every untracked path it left that no ignore rule already covers is appended,
 * anchored, to the checkout's `.git/info/exclude`. Without this a repository whose `.gitignore`
 * misses, say, `node_modules/` would have the agent commit its installed dependencies. Tracked
 * files the script changed are not touched (they show in the diff like any change). Returns the
 * number of paths excluded.
 */
export async function excludeSetupOutput(git: Git, workdir: string): Promise<number> {
  const untracked = await git.run(["ls-files", "--others", "--exclude-standard", "--directory", "-z"]);
  const paths = untracked.stdout.split("\0").filter((path) => path !== "");
  if (paths.length === 0) return 0;
  const gitPath = (await git.run(["rev-parse", "--git-path", "info/exclude"])).stdout.trim();
  const file = isAbsolute(gitPath) ? gitPath : join(workdir, gitPath);
  await mkdir(dirname(file), { recursive: true });
  const lines = paths.map(excludePattern).join("\n");
  await appendFile(file, `\n# What .lookout/setup.sh made (Lookout keeps it out of the agent's commits)\n${lines}\n`);
  return paths.length;
}

/**
 * The ignore pattern that matches exactly `path` (relative to the work tree; directories end in
 * `/`): anchored with a leading `/`, with the characters gitignore gives meaning to escaped.
 */
export function excludePattern(path: string): string {
  const escaped = path.replace(/[\\*?[\]!#]/g, (char) => `\\${char}`).replace(/ $/, "\\ ");
  return `/${escaped}`;
}
