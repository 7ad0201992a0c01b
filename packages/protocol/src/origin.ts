import { z } from "zod";
import { Id } from "./common.ts";

/**
 * Where a session's work came from, and so where its results are reported back. Recorded once
 * when the session is created; a session made from the dashboard or the REST API reports nowhere.
 */
export const SessionOrigin = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("dashboard") }),
  z.object({ kind: z.literal("api") }),
  z.object({
    kind: z.literal("automation"),
    automationId: Id,
    runId: Id,
    /** `cron`, `webhook`, `sentry`, or `manual` for "run now". */
    trigger: z.enum(["cron", "webhook", "sentry", "manual"]),
  }),
  z.object({
    kind: z.literal("slack"),
    teamId: z.string().min(1).max(64),
    channelId: z.string().min(1).max(64),
    threadTs: z.string().min(1).max(64),
  }),
  z.object({
    kind: z.literal("github"),
    repository: z.string().min(3).max(200),
    pullRequest: z.number().int().positive(),
    /** The comment that asked, when one did (its reply is edited with the result). */
    commentId: z.number().int().positive().optional(),
    /**
     * Which kind of comment asked: a pull request (issue) comment, a review's body, or a review
     * comment on a line (whose thread the reply goes into).
     */
    commentKind: z.enum(["issue", "review", "review-comment"]).optional(),
    /** The pull request comes from a fork: its session gets no repository secrets and pushes nothing. */
    fork: z.boolean().optional(),
    /** The session reviews the pull request (auto-review): its answer is posted as a review with line comments. */
    review: z.boolean().optional(),
  }),
  z.object({
    kind: z.literal("linear"),
    agentSessionId: z.string().min(1).max(128),
    issueId: z.string().min(1).max(128),
  }),
]);
export type SessionOrigin = z.infer<typeof SessionOrigin>;

/**
 * A session working on a pull request from a fork: it gets no repository secrets, git credentials
 * that cannot push, and no pull request; it answers with a suggested patch.
 */
export function isForkOrigin(origin: SessionOrigin | undefined): boolean {
  return origin?.kind === "github" && origin.fork === true;
}

/** A session that may not push or open a pull request: a fork's, or an auto-review's (it only reads). */
export function isReadOnlyOrigin(origin: SessionOrigin | undefined): boolean {
  return origin?.kind === "github" && (origin.fork === true || origin.review === true);
}

/**
 * What a session tells its origin: a prompt settled, or the agent opened or updated a pull request.
 * The session emits these; the control plane's outbox delivers them to the origin.
 */
export const SessionOutcome = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("prompt.finished"),
    sessionId: Id,
    origin: SessionOrigin,
    promptId: Id,
    status: z.enum(["completed", "failed", "stopped"]),
    error: z.string().nullable(),
    /** The agent's last message for this prompt, if it wrote one: the summary a report shows. */
    summary: z.string().nullable(),
    /** When the prompt settled (ms since the epoch); with `promptId`, the report's idempotency key. */
    at: z.number(),
  }),
  z.object({
    kind: z.literal("pull-request"),
    sessionId: Id,
    origin: SessionOrigin,
    url: z.string().url(),
    title: z.string(),
    state: z.string(),
    at: z.number(),
  }),
]);
export type SessionOutcome = z.infer<typeof SessionOutcome>;
