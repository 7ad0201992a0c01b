import type { PoolClaim } from "@lookout/protocol";
import type { BridgeConfig } from "./config";
import type { Git } from "./git";
import type { AgentUser } from "./isolation";
import type { Logger } from "./logger";
import type { PoolChannel } from "./pool-channel";
import { SessionRemote } from "./scm/remote";
import { excludeSetupOutput } from "./setup-exclude";
import { describeSetupResult, runSetupScript, type SetupScriptResult } from "./setup-script";

/** Why a pool sandbox could not be made warm; reported to the gateway with the script's output. */
export class PoolPreparationFailed extends Error {
  override readonly name = "PoolPreparationFailed";
  constructor(
    message: string,
    readonly output?: string,
  ) {
    super(message);
  }
}

export interface PoolPreparation {
  /** The base branch's commit the work tree holds (the gateway retires the sandbox when the base moves). */
  baseHead: string;
  setup: SetupScriptResult;
}

/**
 * A warm-pool sandbox's preparation, before any session: clones the repository at the base branch
 * with the pool's read-only credential (no session branch yet), then runs the repository's setup
 * script as the agent's user with its time limit. Each phase is reported on the pool channel; a
 * failing script throws `PoolPreparationFailed` with its output's tail.
 */
export async function preparePoolSandbox(options: {
  config: BridgeConfig;
  git: Git;
  privateDir: string;
  channel: PoolChannel;
  agentUser: AgentUser | undefined;
  logger: Logger;
}): Promise<PoolPreparation> {
  const { config, git, channel, logger } = options;
  if (!config.pool) throw new Error("preparePoolSandbox runs only in pool mode.");
  if (!config.repoUrl) throw new PoolPreparationFailed("The pool sandbox has no repository URL (LOOKOUT_REPO_URL).");
  await channel.report({ phase: "cloning" });
  const remote = new SessionRemote({ url: config.repoUrl, git, dir: options.privateDir, credentials: channel.credentials, logger });
  // The pool's work tree sits on the base branch itself until a session names its own branch. A
  // sandbox started from the repository's image already holds it: it catches up with the base here,
  // before it is warm (no agent reads yet, so nothing gains from deferring the sync).
  const deferred = await git.prepare({ remote, baseBranch: config.baseBranch, branch: config.baseBranch });
  if (deferred) {
    const synced = await deferred();
    logger.info("pool sandbox started from the repository's image and caught up", { behind: synced.behind });
  }
  const baseHead = await git.head();
  if (!baseHead) throw new PoolPreparationFailed(`The base branch ${config.baseBranch} has no commit to prepare.`);

  await channel.report({ phase: "setup" });
  const setup = await runSetupScript({
    workdir: config.workdir,
    timeoutMs: config.pool.setupTimeoutMs,
    ...(options.agentUser ? { runAs: options.agentUser } : {}),
  });
  logger.info("setup script", { result: describeSetupResult(setup) });
  if (setup.status === "failed" || setup.status === "timed-out") {
    throw new PoolPreparationFailed(`The repository's setup script failed: ${describeSetupResult(setup)}.`, setup.output);
  }
  await excludeSetupOutput(git, config.workdir);
  return { baseHead, setup };
}

/**
 * Makes a claimed pool sandbox the session's: points `origin` at the session's repository URL
 * (credentials now come from the control plane with the session's token) and switches to the
 * session branch (resuming it when it exists). Unless the gateway vouched that nothing moved
 * (`upToDate`), it syncs with the remote before the agent starts, since the pool's OpenCode runs
 * without the write gate a deferred sync needs.
 */
export async function adoptSession(options: {
  config: BridgeConfig;
  claim: PoolClaim;
  git: Git;
  remote: SessionRemote | undefined;
  logger: Logger;
}): Promise<void> {
  const { config, git, remote } = options;
  const started = Date.now();
  const deferredSync = await git.prepare({ remote, baseBranch: config.baseBranch, branch: config.branch });
  const synced = deferredSync !== undefined && options.claim.upToDate !== true;
  if (synced) await deferredSync();
  options.logger.info("claimed pool sandbox adopted the session", { branch: config.branch, synced, ms: Date.now() - started });
}

/** Whether the claim brings secrets, which OpenCode can only see in the environment it starts with. */
export function claimNeedsRestart(claim: PoolClaim): boolean {
  return Object.keys(claim.env).length > 0;
}
