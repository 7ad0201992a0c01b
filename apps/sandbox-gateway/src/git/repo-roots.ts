import { execFile } from "node:child_process";
import { realpath, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, sep } from "node:path";
import { LookoutError } from "@lookout/protocol";

/** Never a repository, whatever the roots say: the host's configuration and kernel interfaces. */
const SYSTEM_DIRS = ["/etc", "/proc", "/sys", "/dev", "/boot", "/run"];

/**
 * Where local repositories may live on the gateway's host. A path is admitted when, with every
 * symlink resolved, it lies under one of the roots (default: the user's home and the project's
 * `.lookout/`), not under a system directory, not inside the Lookout installation itself (its
 * `.lookout/` excepted), and is a git repository. Registration asks this, and so does every git
 * operation on a host path, so a path that stops qualifying stops being served.
 */
export class RepositoryRoots {
  private constructor(
    private readonly roots: readonly string[],
    private readonly installation: string,
    private readonly stateDir: string,
  ) {}

  /** `LOOKOUT_LOCAL_REPO_ROOTS` (colon-separated absolute paths) or the defaults. */
  static async create(installation: string, configured: string | undefined): Promise<RepositoryRoots> {
    const stateDir = join(installation, ".lookout");
    const listed = configured ? configured.split(":").filter((entry) => entry.trim() !== "") : [homedir(), stateDir];
    for (const root of listed) {
      if (!root.startsWith("/")) throw new Error(`LOOKOUT_LOCAL_REPO_ROOTS: ${JSON.stringify(root)} is not an absolute path.`);
    }
    const resolved = await Promise.all(listed.map((root) => realpath(root).catch(() => root)));
    return new RepositoryRoots(
      resolved,
      await realpath(installation).catch(() => installation),
      await realpath(stateDir).catch(() => stateDir),
    );
  }

  describe(): string {
    return this.roots.join(", ");
  }

  /** The canonical path of an admitted repository; a typed error says why any other is refused. */
  async check(path: string): Promise<string> {
    const canonical = await realpath(path).catch(() => undefined);
    if (!canonical || !(await stat(canonical)).isDirectory()) {
      throw new LookoutError("REPOSITORY_NOT_FOUND", `No directory exists at ${path} on the gateway's host.`);
    }
    const under = (dir: string) => canonical === dir || canonical.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
    if (SYSTEM_DIRS.some(under)) {
      throw new LookoutError("FORBIDDEN", `${path} is a system directory (${canonical}); local repositories cannot live there.`);
    }
    if (under(this.installation) && !under(this.stateDir)) {
      throw new LookoutError(
        "FORBIDDEN",
        `${path} is inside the Lookout installation (${this.installation}); register a repository elsewhere.`,
      );
    }
    if (!this.roots.some(under)) {
      throw new LookoutError(
        "FORBIDDEN",
        `${path} (${canonical}) is outside the directories local repositories may live in: ${this.describe()}. Set LOOKOUT_LOCAL_REPO_ROOTS on the gateway to add one.`,
      );
    }
    if (!(await isRepository(canonical))) {
      throw new LookoutError("REPOSITORY_NOT_FOUND", `${path} is not a git repository (run \`git init\` there first).`);
    }
    return canonical;
  }
}

/** Asks git itself, with no user or system configuration. */
function isRepository(dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      "git",
      ["rev-parse", "--git-dir"],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_CONFIG_GLOBAL: "/dev/null",
          // The repository must be the directory itself, not a parent found by walking up.
          GIT_CEILING_DIRECTORIES: join(dir, ".."),
          HOME: "/nonexistent",
        },
        timeout: 10_000,
      },
      (error) => resolve(!error),
    );
  });
}
