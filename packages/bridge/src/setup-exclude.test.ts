import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Git } from "./git";
import { silentLogger } from "./logger";
import { excludePattern, excludeSetupOutput } from "./setup-exclude";
import { runSetupScript } from "./setup-script";

const bot = { name: "Lookout", email: "bot@lookout.dev" };
const alice = { name: "Alice", email: "alice@example.com" };
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A checkout on `main` with a setup script that installs "dependencies" and writes a cache file, and no .gitignore. */
function repository(): string {
  const dir = mkdtempSync(join(tmpdir(), "lookout-setup-exclude-"));
  dirs.push(dir);
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", dir]);
  mkdirSync(join(dir, ".lookout"));
  writeFileSync(
    join(dir, ".lookout/setup.sh"),
    "mkdir -p node_modules/left-pad && echo pad > node_modules/left-pad/index.js && echo built > 'cache [1].txt'\n",
  );
  writeFileSync(join(dir, "app.js"), "console.log(1);\n");
  const env = { ...process.env, GIT_AUTHOR_NAME: "Seed", GIT_AUTHOR_EMAIL: "s@x", GIT_COMMITTER_NAME: "Seed", GIT_COMMITTER_EMAIL: "s@x" };
  execFileSync("git", ["add", "."], { cwd: dir, env });
  execFileSync("git", ["commit", "--quiet", "-m", "seed"], { cwd: dir, env });
  return dir;
}

function committedPaths(dir: string): string[] {
  return execFileSync("git", ["show", "--name-only", "--format=", "HEAD"], { cwd: dir, encoding: "utf8" }).split("\n").filter(Boolean);
}

describe("what the setup script made", () => {
  it("stays out of the agent's commit, while the agent's own new files go in", async () => {
    const dir = repository();
    const git = new Git(dir, bot, silentLogger);
    expect((await runSetupScript({ workdir: dir })).status).toBe("succeeded");
    expect(await excludeSetupOutput(git, dir)).toBe(2);

    writeFileSync(join(dir, "feature.js"), "export {};\n");
    writeFileSync(join(dir, "app.js"), "console.log(2);\n");
    await git.commitAll("Add the feature", alice);
    expect(committedPaths(dir).sort()).toEqual(["app.js", "feature.js"]);
  });

  it("without it, the setup script's output would be committed (the case it prevents)", async () => {
    const dir = repository();
    const git = new Git(dir, bot, silentLogger);
    await runSetupScript({ workdir: dir });
    writeFileSync(join(dir, "feature.js"), "export {};\n");
    await git.commitAll("Add the feature", alice);
    expect(committedPaths(dir)).toContain("node_modules/left-pad/index.js");
  });

  it("excludes nothing when the script left nothing untracked", async () => {
    const dir = repository();
    expect(await excludeSetupOutput(new Git(dir, bot, silentLogger), dir)).toBe(0);
  });

  it("escapes the characters gitignore gives meaning to, anchoring each path", () => {
    expect(excludePattern("node_modules/")).toBe("/node_modules/");
    expect(excludePattern("cache [1].txt")).toBe("/cache \\[1\\].txt");
    expect(excludePattern("#notes!")).toBe("/\\#notes\\!");
    expect(excludePattern("a*b?")).toBe("/a\\*b\\?");
    expect(excludePattern("trailing ")).toBe("/trailing\\ ");
  });
});
