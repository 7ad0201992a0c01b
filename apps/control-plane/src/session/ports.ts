import type { ArtifactEvent, Author, ModelRef, ReasoningEffort, SessionOrigin, SessionOutcome } from "@lookout/protocol";
import type { SandboxGateway } from "./gateway-client";
import type { LifecycleConfig } from "./lifecycle";
import type { ConnectionState } from "./presence";
import type { SessionRecord, SessionRepository } from "./session-store";
import type { Sql } from "./sql";

/**
 * What a session needs from its host, and what its callers hand it. The Durable Object supplies
 * these in workerd; the unit harness supplies them in Node. Nothing here names a Cloudflare API.
 */

/** One WebSocket as the session sees it: an id, its validated state, and a way to talk to it. */
export interface Socket {
  readonly id: string;
  state(): ConnectionState | null;
  setState(state: ConnectionState): void;
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** Writes the session's row in the shared D1 index; failures are logged, never fatal. */
export interface SessionIndex {
  write(record: SessionRecord, lastActivityAt: number): Promise<void>;
}

export interface SessionPorts {
  sql: Sql;
  now(): number;
  sockets(): Iterable<Socket>;
  gateway: SandboxGateway;
  index: SessionIndex;
  /** Arms the single alarm for `at`, or disarms it when `at` is null. */
  armAlarm(at: number | null): void;
  /** Keeps background work (spawns, index writes) alive after the current request returns. */
  defer(work: Promise<unknown>): void;
  secretsFor(repositoryId: string): Promise<Record<string, string>>;
  publicUrl: string;
  lifecycle?: LifecycleConfig;
  /**
   * Called after the bridge pushed the session's branch, so an open pull request follows it;
   * resolves with the updated pull request's artifact, if there is one.
   */
  onBranchPushed?: (session: SessionRecord, headSha: string) => Promise<ArtifactEvent | null>;
  /** Hands an outcome to whoever reports back to the session's origin (the triggers' outbox). */
  reportOutcome?: (outcome: SessionOutcome) => Promise<void>;
  /**
   * Hands a running prompt's step (a `progress` outcome) to the same reporter; the session sends at
   * most one every `PROGRESS.throttleMs` (`progress-reporter.ts`). Without it, no steps are reported.
   */
  reportProgress?: (outcome: Extract<SessionOutcome, { kind: "progress" }>) => Promise<void>;
  /** Runs `work` after `delayMs` (the throttle's trailing send); nothing needs it to survive a restart. */
  later?: (delayMs: number, work: () => void) => void;
  /**
   * The snapshot id of the repository's newest ready image for `baseBranch` (ADR 0015), or null: a
   * sandbox with no snapshot of the session's own starts from it. Without it, sandboxes clone.
   */
  repositoryImage?: (repositoryId: string, baseBranch: string) => Promise<string | null>;
}

/** What source control needs to know about a session (credentials, pull requests). */
export interface ScmContext {
  session: SessionRecord;
  /** The author of the running prompt, who a pull request the agent opens is for. */
  currentAuthor: Author | null;
  /** A commit a participant approved recently, which may carry workflow changes. */
  approvedWorkflowSha: string | null;
}

export interface CreateSessionInput {
  id: string;
  title: string;
  repository: SessionRepository;
  baseBranch: string;
  /**
   * The branch the agent's commits are pushed to; by default `lookout/<id>`. A GitHub mention on a
   * repository that allows direct pushes names the pull request's own branch.
   */
  branch?: string | undefined;
  model: ModelRef;
  reasoningEffort: ReasoningEffort | null;
  owner: Author;
  parentSessionId: string | null;
  /** Where the work came from; reported back to when prompts finish. Defaults to `api`. */
  origin?: SessionOrigin | undefined;
}

export interface PromptInput {
  requestId: string | null;
  text: string;
  model?: ModelRef | undefined;
  reasoningEffort?: ReasoningEffort | undefined;
}
