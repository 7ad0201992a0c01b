import {
  type Author,
  LookoutError,
  type ModelRef,
  type ReasoningEffort,
  type SessionOrigin,
  type SessionSummary,
  sha256Hex,
} from "@lookout/protocol";
import { getAgentByName } from "agents";
import { RepositoryStore } from "../db/repositories";
import { SessionIndexStore } from "../db/sessions-index";
import type { Env } from "../env";
import { log } from "../log";
import { githubCloneUrl } from "../scm/github/settings";
import { newId } from "../session/ids";
import { unwrap } from "../session/rpc";
import { wakeScheduler } from "../triggers/scheduler-object";

export interface NewSession {
  owner: Author;
  repositoryId: string;
  title?: string | undefined;
  baseBranch?: string | null | undefined;
  /** The branch the agent pushes to, when not its own `lookout/<id>` (see `CreateSessionInput.branch`). */
  branch?: string | undefined;
  model?: ModelRef | null | undefined;
  reasoningEffort?: ReasoningEffort | null | undefined;
  /** A first prompt, queued at once. */
  prompt?: string | undefined;
  /** An idempotency key: the same owner and key always land on the same session. */
  requestId?: string | undefined;
  parentSessionId?: string | null | undefined;
  /** Where the work came from, and so where its outcomes are reported. */
  origin: SessionOrigin;
}

/**
 * Creates a session: the one path the REST API and every trigger take, so ids, titles, defaults
 * and the origin are decided the same way. A retried create with the same owner and request id
 * lands on the same session instead of a second one.
 */
export async function createSession(env: Env, input: NewSession): Promise<{ session: SessionSummary; promptId: string | null }> {
  const repository = await new RepositoryStore(env.DB).get(input.repositoryId);
  if (!repository) throw new LookoutError("REPOSITORY_NOT_FOUND");
  const id = input.requestId ? `ses_${(await sha256Hex(`${input.owner.userId}\n${input.requestId}`)).slice(0, 26)}` : newId("ses");
  const title = input.title ?? titleFrom(input.prompt) ?? `Session on ${repository.fullName}`;
  const index = new SessionIndexStore(env.DB);
  const stub = await getAgentByName(env.SESSION, id);
  const session = {
    id,
    title,
    repository: {
      id: repository.id,
      kind: repository.kind,
      fullName: repository.fullName,
      path: repository.path,
      cloneUrl: repository.kind === "github" ? githubCloneUrl(env, repository.fullName) : null,
    },
    baseBranch: input.baseBranch ?? repository.defaultBranch,
    ...(input.branch ? { branch: input.branch } : {}),
    model: input.model ?? env.DEFAULT_MODEL,
    reasoningEffort: input.reasoningEffort ?? null,
    owner: input.owner,
    parentSessionId: input.parentSessionId ?? null,
    origin: input.origin,
  };
  const { state, promptId } = await unwrap(
    stub.createSession(
      session,
      input.prompt ? { requestId: input.requestId ? `${input.requestId}:first` : null, text: input.prompt } : null,
    ),
  );
  // The object wrote its index row before answering; the origin is the index's to list and filter by.
  await index.setOrigin(state.id, input.origin);
  const summary = await index.get(state.id);
  if (!summary) throw new Error(`session ${state.id} has no index row after creation`);
  // The repository was just used: the scheduler pushes the warm pool's targets now (its refill).
  await wakeScheduler(env, Date.now()).catch((error: unknown) => log.warn("pool refresh not scheduled", { error }));
  return { session: summary, promptId };
}

/** The first non-empty line of a prompt, shortened to a title. */
export function titleFrom(prompt: string | undefined): string | null {
  if (!prompt) return null;
  const line =
    prompt
      .split("\n")
      .find((candidate) => candidate.trim().length > 0)
      ?.trim() ?? "";
  if (!line) return null;
  return line.length > 80 ? `${line.slice(0, 77)}…` : line;
}
