import type { BridgeEventPayload } from "@lookout/protocol";
import type { AgentCommand } from "./connection";
import type { Git } from "./git";
import { errorMessage, type Logger } from "./logger";

/** The longest commit subject line. */
const MAX_SUBJECT_CHARS = 72;

export type PromptCommand = Extract<AgentCommand, { type: "command.prompt" }>;

/** What committing a prompt's work needs: the checkout, where events go, and whose session it is. */
export interface PromptCommitContext {
  git: Git;
  emit: (event: BridgeEventPayload) => void;
  logger: Logger;
  lookoutSessionId: string;
}

/**
 * Commits everything the prompt changed as the prompting user and reports it: `files.changed`
 * (against `before`, the head when the prompt started) and `git.commit`. A git failure is reported
 * as `agent.error` and its message returned, so the prompt can finish as failed.
 */
export async function commitPromptChanges(
  context: PromptCommitContext,
  command: PromptCommand,
  before: string | undefined,
): Promise<string | undefined> {
  const { git, emit, logger } = context;
  try {
    const message = commitMessage(command.text, command.author.name, context.lookoutSessionId, command.promptId);
    const sha = await git.commitAll(message, command.gitAuthor);
    const after = await git.head();
    if (after && after !== before) {
      const { files, diff } = await git.changesBetween(before, after);
      if (files.length > 0) emit({ type: "files.changed", promptId: command.promptId, files, diff });
    }
    if (sha) {
      const branch = await git.currentBranch();
      emit({
        type: "git.commit",
        promptId: command.promptId,
        sha,
        branch,
        message,
        author: { name: command.gitAuthor.name, email: command.gitAuthor.email },
      });
      logger.info("committed", { promptId: command.promptId, sha, branch });
    }
    return undefined;
  } catch (error) {
    const message = `Committing the prompt's changes failed: ${errorMessage(error)}`;
    emit({ type: "agent.error", promptId: command.promptId, message, code: "GIT_COMMIT_FAILED" });
    return message;
  }
}

/** A commit message: the prompt's first line as the subject, then who asked and trailers. */
export function commitMessage(prompt: string, authorName: string, sessionId: string, promptId: string): string {
  const firstLine = prompt
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line.length > 0);
  const subjectSource = firstLine ?? "Lookout changes";
  const subject = subjectSource.length > MAX_SUBJECT_CHARS ? `${subjectSource.slice(0, MAX_SUBJECT_CHARS - 1).trimEnd()}…` : subjectSource;
  return `${subject}\n\nPrompted by ${authorName} in Lookout.\n\nLookout-Session: ${sessionId}\nLookout-Prompt: ${promptId}`;
}
