import { type BridgeEventPayload, isProtectedPath, type SessionCommand } from "@lookout/protocol";
import { checkBranchName } from "../branch";

/** What the push coordinator needs from git: the bridge's `Git.run` fits. */
export interface GitRunner {
  run(
    args: readonly string[],
    options?: { env?: Record<string, string>; okCodes?: readonly number[] },
  ): Promise<{ stdout: string; stderr: string; code: number }>;
}

export type PushDecision = { action: "push" } | { action: "ask"; files: string[] };

/** A push may go when it touches no protected path, or when exactly this commit was approved. */
export function decidePush(files: readonly string[], headSha: string, approvedSha: string | null): PushDecision {
  const touched = files.filter(isProtectedPath);
  if (touched.length === 0 || approvedSha === headSha) return { action: "push" };
  return { action: "ask", files: [...new Set(touched)].sort() };
}

/** The approval id for a held-back head: stable, so a re-sent request is the same request. */
export function approvalIdFor(headSha: string): string {
  return `apr_${headSha.slice(0, 24)}`;
}

type Decided = Extract<SessionCommand, { type: "command.push.decided" }>;

/** What pushes go through: the bridge's `SessionRemote` fits (a credential per push, see `remote.ts`). */
export interface BranchRemote {
  push(headSha: string, branch: string): Promise<{ stderr: string; code: number }>;
}

export interface PushCoordinatorOptions {
  /** The checkout's git, for what needs no credential. */
  git: GitRunner;
  remote: BranchRemote;
  /** The name the session's repository has in the checkout (its `refs/remotes/<name>/*`). */
  remoteName: string;
  branch: string;
  emit(event: BridgeEventPayload): void;
}

/**
 * Pushes the session branch after each prompt's commit. Before pushing it lists the paths the
 * unpushed commits touch; a change under `.github/workflows/` is held back and a person in the
 * session is asked (`push.approval.requested`). The push goes ahead only for the approved commit;
 * the gateway (local) or GitHub (no `workflows` permission) refuses it otherwise anyway.
 */
export class PushCoordinator {
  private approvedSha: string | null = null;
  /** A head a participant refused; it stays unpushed until a later commit asks again. */
  private rejectedSha: string | null = null;
  private waiting: { approvalId: string; headSha: string; promptId: string | undefined } | null = null;

  constructor(private readonly options: PushCoordinatorOptions) {
    const check = checkBranchName(options.branch);
    if (!check.ok) throw new Error(`Refusing branch name ${JSON.stringify(options.branch)}: it ${check.reason}.`);
  }

  /** Paths touched by commits on HEAD that the remote does not have yet. */
  async unpushedPaths(): Promise<string[]> {
    const { git, remoteName } = this.options;
    const result = await git.run(["log", "--format=", "--name-only", "--no-renames", "-m", "HEAD", "--not", `--remotes=${remoteName}`]);
    return result.stdout.split("\n").filter((line) => line.length > 0);
  }

  /** Whether HEAD has commits the remote has on no branch: otherwise there is nothing to push. */
  async hasUnpushedCommits(): Promise<boolean> {
    const { git, remoteName } = this.options;
    const result = await git.run(["rev-list", "--count", "HEAD", "--not", `--remotes=${remoteName}`], { okCodes: [0, 128] });
    // 128: HEAD is unborn (no commits at all), so there is nothing to push either.
    return result.code === 0 && Number(result.stdout.trim()) > 0;
  }

  /** Called after a prompt's commit: pushes, or asks for approval first; does nothing when nothing is new. */
  async afterCommit(promptId?: string): Promise<void> {
    if (!(await this.hasUnpushedCommits())) return;
    const head = (await this.options.git.run(["rev-parse", "--verify", "HEAD"])).stdout.trim();
    // Already waiting for (or refused) exactly this commit: asking again would add nothing.
    if (this.waiting?.headSha === head || this.rejectedSha === head) return;
    const decision = decidePush(await this.unpushedPaths(), head, this.approvedSha);
    if (decision.action === "push") {
      await this.push(head, promptId);
      return;
    }
    const approvalId = approvalIdFor(head);
    this.waiting = { approvalId, headSha: head, promptId };
    this.options.emit({ type: "push.approval.requested", approvalId, branch: this.options.branch, headSha: head, files: decision.files });
    this.options.emit({
      type: "git.push",
      ...(promptId ? { promptId } : {}),
      branch: this.options.branch,
      headSha: head,
      status: "awaiting_approval",
    });
  }

  /** The session relayed a participant's decision. */
  async onDecision(command: Decided): Promise<void> {
    const waiting = this.waiting;
    if (!waiting || waiting.approvalId !== command.approvalId || waiting.headSha !== command.headSha) return;
    this.waiting = null;
    if (command.decision === "reject") {
      this.rejectedSha = waiting.headSha;
      this.options.emit({
        type: "git.push",
        ...(waiting.promptId ? { promptId: waiting.promptId } : {}),
        branch: this.options.branch,
        headSha: waiting.headSha,
        status: "failed",
        error: "A participant rejected pushing the workflow changes; they stay in the sandbox.",
      });
      return;
    }
    this.approvedSha = command.headSha;
    await this.push(command.headSha, waiting.promptId);
  }

  private async push(headSha: string, promptId: string | undefined): Promise<void> {
    const { git, remote, remoteName, branch } = this.options;
    const emit = (event: BridgeEventPayload): void => this.options.emit(event);
    const base = { ...(promptId ? { promptId } : {}), branch, headSha };
    const result = await remote.push(headSha, branch);
    if (result.code === 0) {
      await git.run(["update-ref", `refs/remotes/${remoteName}/${branch}`, headSha], { okCodes: [0, 1, 128] });
      emit({ type: "git.push", ...base, status: "pushed" });
    } else {
      emit({
        type: "git.push",
        ...base,
        status: "failed",
        error: result.stderr.trim().slice(0, 2000) || `git push exited with ${result.code}`,
      });
    }
  }
}
