import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepositoryRoots } from "../src/git/repo-roots";

let base: string;
let allowed: string;
let installation: string;
let roots: RepositoryRoots;

function gitRepo(path: string): string {
  mkdirSync(path, { recursive: true });
  execFileSync("git", ["init", "-q", "-b", "main", path]);
  return path;
}

beforeAll(async () => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "lookout-roots-")));
  allowed = join(base, "allowed");
  installation = join(base, "lookout");
  mkdirSync(allowed);
  gitRepo(installation);
  roots = await RepositoryRoots.create(installation, `${allowed}:${join(installation, ".lookout")}`);
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("where local repositories may live", () => {
  it("admits a git repository under an allowed root, by its canonical path", async () => {
    const repo = gitRepo(join(allowed, "app"));
    expect(await roots.check(repo)).toBe(repo);
    expect(await roots.check(`${allowed}/./app/`)).toBe(repo);
  });

  it.each(["/etc", "/proc/self/cwd", "/proc/1/root/etc", "/sys", "/dev"])("refuses the system path %s", async (path) => {
    await expect(roots.check(path)).rejects.toMatchObject({ code: expect.stringMatching(/FORBIDDEN|REPOSITORY_NOT_FOUND/) });
  });

  it("refuses a symlink under an allowed root that points outside it", async () => {
    symlinkSync("/etc", join(allowed, "etc-link"));
    const outside = gitRepo(join(base, "elsewhere"));
    symlinkSync(outside, join(allowed, "elsewhere-link"));
    await expect(roots.check(join(allowed, "etc-link"))).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(roots.check(join(allowed, "elsewhere-link"))).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("refuses a repository outside the roots, a plain directory, and a missing path", async () => {
    await expect(roots.check(join(base, "elsewhere"))).rejects.toMatchObject({ code: "FORBIDDEN" });
    mkdirSync(join(allowed, "plain"));
    await expect(roots.check(join(allowed, "plain"))).rejects.toMatchObject({ code: "REPOSITORY_NOT_FOUND" });
    await expect(roots.check(join(allowed, "missing"))).rejects.toMatchObject({ code: "REPOSITORY_NOT_FOUND" });
  });

  it("refuses the Lookout installation itself, but admits its .lookout/ state directory", async () => {
    await expect(roots.check(installation)).rejects.toMatchObject({ code: "FORBIDDEN" });
    const demo = gitRepo(join(installation, ".lookout", "demo-repo"));
    expect(await roots.check(demo)).toBe(demo);
  });

  it("defaults to the user's home and the installation's .lookout/, and refuses relative roots", async () => {
    const defaults = await RepositoryRoots.create(installation, undefined);
    expect(defaults.describe()).toContain(".lookout");
    await expect(RepositoryRoots.create(installation, "relative/dir")).rejects.toThrow(/absolute/);
  });
});
