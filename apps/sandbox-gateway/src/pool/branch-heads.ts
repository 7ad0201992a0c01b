import type { PoolTarget } from "@lookout/protocol";
import type { Logger } from "@lookout/sandbox";
import { RemoteHeads } from "../git/remote-heads";
import { listBranches, type GitEnvironment } from "../git/repo-ops";
import { usableCredential } from "./entry";

/**
 * A pool target's branch heads (branch name → commit), read at most `maxAgeMs` ago; a branch
 * missing from the map does not exist. Undefined when they could not be read: unknown, which
 * the pool treats as "keep the warm sandboxes" and "not up to date", never as "no such branch".
 */
export type BranchHeads = (target: PoolTarget, maxAgeMs: number) => Promise<ReadonlyMap<string, string> | undefined>;

/**
 * A local repository's heads come from the host repository (cheap, read every time); a remote
 * one's from `git ls-remote` with the target's read-only credential, the one its pool sandboxes
 * clone with, shared by the callers that accept the read's age.
 */
export function poolBranchHeads(git: GitEnvironment, logger: Logger, now: () => number = Date.now): BranchHeads {
  const remote = new RemoteHeads({ gitHome: git.gitHome, logger, now });
  return async (target, maxAgeMs) => {
    if (target.repository.kind === "remote") {
      return remote.read({ url: target.repository.cloneUrl, credential: usableCredential(target, now()) }, maxAgeMs);
    }
    const branches = await listBranches(target.repository.path, git).catch(() => undefined);
    return branches && new Map(branches.map((branch) => [branch.name, branch.sha]));
  };
}
