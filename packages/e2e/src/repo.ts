import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A small git repository on disk with one commit on `main`. */
export function createRepoFixture(files: Record<string, string> = {}): string {
  const path = mkdtempSync(join(tmpdir(), "lookout-repo-"));
  const all = {
    "README.md": "# Fixture\n\nA repository for Lookout's end-to-end tests.\n",
    "src/greet.js": 'export function greet(name) {\n  return "Hello, " + name;\n}\n',
    ...files,
  };
  for (const [file, content] of Object.entries(all)) {
    execFileSync("mkdir", ["-p", join(path, file, "..")]);
    writeFileSync(join(path, file), content);
  }
  git(path, "init", "-q", "-b", "main");
  git(path, "add", ".");
  git(path, "-c", "user.name=Fixture", "-c", "user.email=fixture@example.com", "commit", "-q", "-m", "Initial commit");
  return path;
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8" }).trim();
}
