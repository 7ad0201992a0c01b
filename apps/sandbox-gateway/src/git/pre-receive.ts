/**
 * The `pre-receive` hook the gateway runs for every push into a host repository (it points
 * `core.hooksPath` at its own directory for `git http-backend`, so the repository's own hooks and
 * files are untouched). It enforces what the push credential allows, from the environment the
 * gateway set after verifying that credential:
 *
 * - `LOOKOUT_GIT_ALLOWED_REF`: the one ref the push may update (the session's branch); every other
 *   ref, and deleting that one, is refused. Unset means nothing is allowed (fail closed).
 * - `LOOKOUT_GIT_WORKFLOW_SHA`: a commit a person approved; only a push whose new head is that
 *   commit may add commits that touch `.github/workflows/`.
 *
 * It runs as a script under Node's type stripping, so it imports only Node built-ins and the
 * protocol (whose source Node strips too). Refs and hashes arrive on stdin and reach git only as
 * argv entries, never through a shell.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { CommitSha } from "@lookout/protocol";

export interface RefUpdate {
  oldSha: string;
  newSha: string;
  ref: string;
}

export interface PushPolicy {
  allowedRef: string | undefined;
  workflowSha: string | undefined;
}

const ZERO_SHA = /^0+$/;
const PROTECTED_PREFIX = ".github/workflows/";

/** Parses the hook's stdin: one `<old> <new> <ref>` line per ref the push updates. */
export function parseUpdates(text: string): RefUpdate[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [oldSha = "", newSha = "", ref = ""] = line.split(" ");
      return { oldSha, newSha, ref };
    });
}

/**
 * Why the push is refused, or null when it may go ahead. `changedPaths(newSha)` lists the paths
 * the push's new commits touch (those not already reachable from the repository's refs).
 */
export function refusal(updates: readonly RefUpdate[], policy: PushPolicy, changedPaths: (newSha: string) => string[]): string | null {
  if (!policy.allowedRef) return "this push carries no branch permission; ask the control plane for a new credential";
  if (updates.length === 0) return "the push names no ref";
  for (const update of updates) {
    if (update.ref !== policy.allowedRef)
      return `refusing to update ${JSON.stringify(update.ref)}: this session may push only to ${policy.allowedRef}`;
    if (!CommitSha.safeParse(update.newSha).success || ZERO_SHA.test(update.newSha)) return `refusing to delete ${policy.allowedRef}`;
    const touched = changedPaths(update.newSha).filter((path) => path.startsWith(PROTECTED_PREFIX));
    if (touched.length > 0 && update.newSha !== policy.workflowSha) {
      return `refusing changes to ${touched.slice(0, 5).join(", ")}: changes to .github/workflows/ need a person's approval in the session first`;
    }
  }
  return null;
}

/** Paths touched by the commits `newSha` adds to the repository, merges included. */
export function newCommitPaths(newSha: string): string[] {
  const output = execFileSync("git", ["log", "--format=", "--name-only", "--no-renames", "-m", newSha, "--not", "--all"], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return output.split("\n").filter((line) => line.length > 0);
}

function main(): void {
  const updates = parseUpdates(readFileSync(0, "utf8"));
  const problem = refusal(
    updates,
    { allowedRef: process.env.LOOKOUT_GIT_ALLOWED_REF || undefined, workflowSha: process.env.LOOKOUT_GIT_WORKFLOW_SHA || undefined },
    newCommitPaths,
  );
  if (problem) {
    process.stderr.write(`Lookout: ${problem}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
