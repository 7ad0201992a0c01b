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
    /**
     * The pull request's page on the GitHub the server is configured for (`GITHUB_WEB_URL`: github.com
     * or an Enterprise Server), http(s) only. Origins recorded before it existed leave it out.
     */
    url: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional(),
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

/** Most tool steps one prompt reports as actions (Linear's `action` activities); later ones are not listed. */
export const MAX_PROGRESS_ACTIONS = 20;
/** Longest subject (command, path, title) a progress step or action quotes. */
const MAX_SUBJECT_CHARS = 80;

/**
 * One tool step while a prompt runs: a tool and what it works on, e.g. `bash` and `pnpm test`.
 * Consecutive calls of the same tool are one step (see `progressActions`).
 */
export const ProgressAction = z.object({
  tool: z.string().min(1).max(200),
  subject: z.string().max(MAX_SUBJECT_CHARS).nullable(),
});
export type ProgressAction = z.infer<typeof ProgressAction>;

/**
 * Where a running prompt is: waiting (behind another prompt, or for a sandbox place), its sandbox
 * starting or restoring, the repository being cloned or synced, the agent thinking, or a tool
 * running. `text` is the one line an origin shows ("Running `pnpm test`").
 */
export const ProgressStep = z.object({
  kind: z.enum(["queued", "starting", "cloning", "syncing", "thinking", "running"]),
  text: z.string().min(1).max(300),
});
export type ProgressStep = z.infer<typeof ProgressStep>;

/** A tool call's input as far as a summary reads it: an object whose fields may be anything. */
const ToolInput = z.record(z.string(), z.unknown());

/** What a tool call works on, in a few words: the command it runs, the file it touches, or its title. */
export function toolSubject(title: string | null | undefined, input: unknown): string | null {
  const parsed = ToolInput.safeParse(input);
  const fields = parsed.success ? parsed.data : {};
  const raw = [fields.command, fields.filePath, fields.path, fields.pattern, fields.url, title].find(
    (value): value is string => typeof value === "string" && value.trim().length > 0,
  );
  if (!raw) return null;
  const line = raw.trim().split("\n")[0]!.trim();
  return line.length > MAX_SUBJECT_CHARS ? `${line.slice(0, MAX_SUBJECT_CHARS - 1)}…` : line;
}

const TOOL_VERBS: Record<string, string> = {
  bash: "Running",
  edit: "Editing",
  write: "Writing",
  patch: "Editing",
  multiedit: "Editing",
  read: "Reading",
  grep: "Searching for",
  glob: "Listing",
  list: "Listing",
  webfetch: "Fetching",
};

/** One line for a tool step: "Running `pnpm test`", "Editing src/x.ts", "Using lookout_open_pull_request". */
export function describeAction(action: ProgressAction): string {
  const verb = TOOL_VERBS[action.tool];
  if (!verb) return action.subject ? `Using ${action.tool}: ${action.subject}` : `Using ${action.tool}`;
  if (!action.subject) return `${verb} (${action.tool})`;
  return action.tool === "bash" || action.tool === "grep" ? `${verb} \`${action.subject}\`` : `${verb} ${action.subject}`;
}

/**
 * A prompt's tool calls, in the order they started, as the steps an origin lists: consecutive calls
 * of the same tool collapse into the first of them, and at most `MAX_PROGRESS_ACTIONS` are kept. A
 * prefix of the calls always gives a prefix of the steps, so step `i` means the same thing whenever
 * it is computed (while the prompt runs, or after it settled).
 */
export function progressActions(calls: readonly ProgressAction[]): ProgressAction[] {
  const actions: ProgressAction[] = [];
  for (const call of calls) {
    if (actions.at(-1)?.tool === call.tool) continue;
    if (actions.length === MAX_PROGRESS_ACTIONS) break;
    actions.push(call);
  }
  return actions;
}

/**
 * What a session tells its origin: a prompt settled, the agent opened or updated a pull request, or
 * (while a prompt runs) the step it is at. The session emits these; the control plane's outbox
 * delivers them to the origin.
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
  z.object({
    kind: z.literal("progress"),
    sessionId: Id,
    origin: SessionOrigin,
    promptId: Id,
    step: ProgressStep,
    /** The prompt's tool steps so far (`progressActions`), oldest first. */
    actions: z.array(ProgressAction).max(MAX_PROGRESS_ACTIONS),
    at: z.number(),
  }),
]);
export type SessionOutcome = z.infer<typeof SessionOutcome>;
