import { z } from "zod";
import { Id, MAX_PROMPT_CHARS, ModelRef, ReasoningEffort, RequestId } from "./common.ts";
import { BranchName } from "./rest.ts";

/**
 * REST DTOs for `/api/automations`: work that starts without anyone opening the dashboard. An
 * automation is the prompt, the repository and the model; its trigger says what starts a run.
 * Sentry and inbound-webhook settings live with their triggers (`triggers.ts`).
 */

/** A five-field cron expression (minute hour day-of-month month day-of-week); no seconds, no macros. */
export const CronExpression = z
  .string()
  .trim()
  .min(9)
  .max(200)
  .refine((text) => text.split(/\s+/).length === 5, "a cron expression has exactly five fields: minute hour day month weekday");

/** An IANA time zone name such as `Europe/Berlin` or `UTC`. */
export const TimeZone = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_+\-/]+$/, "an IANA time zone name such as Europe/Berlin");

export const AutomationTrigger = z.discriminatedUnion("kind", [
  /** Fires on a schedule in the given time zone. */
  z.object({ kind: z.literal("cron"), expression: CronExpression, timeZone: TimeZone.default("UTC") }),
  /** Fires on `POST /api/triggers/webhooks/:automationId` (settings in `triggers.ts`). */
  z.object({ kind: z.literal("webhook") }),
  /** Fires on Sentry integration-platform deliveries (settings in `triggers.ts`). */
  z.object({ kind: z.literal("sentry") }),
  /** Fires only on "run now". */
  z.object({ kind: z.literal("manual") }),
]);
export type AutomationTrigger = z.infer<typeof AutomationTrigger>;

/**
 * What a delivery whose subject (its dedupe key: the same Sentry issue, the same webhook key)
 * already has an active session does: `follow-up` sends it to that session as a new prompt,
 * `duplicate` records it and starts nothing.
 */
export const TriageMode = z.enum(["follow-up", "duplicate"]);
export type TriageMode = z.infer<typeof TriageMode>;

/** Most runs of one automation in flight at once; a fire beyond it is recorded as skipped. */
export const MAX_CONCURRENT_RUNS_LIMIT = 10;

const AutomationFields = {
  name: z.string().trim().min(1).max(120),
  /** The prompt every run starts with. */
  instructions: z.string().trim().min(1).max(MAX_PROMPT_CHARS),
  repositoryId: Id,
  /** Omitted: the repository's default branch. */
  baseBranch: BranchName.nullable(),
  /** Omitted: the Worker's `DEFAULT_MODEL`. */
  model: ModelRef.nullable(),
  reasoningEffort: ReasoningEffort.nullable(),
  trigger: AutomationTrigger,
  triage: TriageMode,
  maxConcurrentRuns: z.number().int().min(1).max(MAX_CONCURRENT_RUNS_LIMIT),
};

export const CreateAutomationRequest = z.object({
  ...AutomationFields,
  baseBranch: AutomationFields.baseBranch.default(null),
  model: AutomationFields.model.default(null),
  reasoningEffort: AutomationFields.reasoningEffort.default(null),
  triage: AutomationFields.triage.default("follow-up"),
  maxConcurrentRuns: AutomationFields.maxConcurrentRuns.default(1),
  /** `false` creates it paused. */
  enabled: z.boolean().default(true),
});
export type CreateAutomationRequest = z.infer<typeof CreateAutomationRequest>;

/** `PATCH /api/automations/:id`: any subset of the fields; pause and resume have their own routes. */
export const UpdateAutomationRequest = z
  .object(AutomationFields)
  .partial()
  .refine((v) => Object.keys(v).length > 0, "send at least one field to change");
export type UpdateAutomationRequest = z.infer<typeof UpdateAutomationRequest>;

export const Automation = z.object({
  id: Id,
  ...AutomationFields,
  /** False while paused, by a person or automatically after repeated failures. */
  enabled: z.boolean(),
  /** Why it is paused (who paused it, or the failures that did). Null while enabled. */
  pausedReason: z.string().nullable(),
  /** Failed runs in a row; three pause it. Resuming or a successful run resets it. */
  consecutiveFailures: z.number().int().nonnegative(),
  /** When the schedule fires next (ms since the epoch); null unless an enabled cron automation. */
  nextRunAt: z.number().nullable(),
  ownerId: z.string(),
  ownerName: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Automation = z.infer<typeof Automation>;

export const RunTrigger = z.enum(["cron", "webhook", "sentry", "manual", "slack", "github", "linear"]);
export type RunTrigger = z.infer<typeof RunTrigger>;

/**
 * `starting`: a session is being created. `running`: its prompt is in flight. `succeeded` /
 * `failed`: the prompt settled (or the run timed out, or no session could start). `skipped`: a cap,
 * an overlap or a condition held it back. `duplicate`: its subject already had a session.
 */
export const RunStatus = z.enum(["starting", "running", "succeeded", "failed", "skipped", "duplicate"]);
export type RunStatus = z.infer<typeof RunStatus>;

export const AutomationRun = z.object({
  id: Id,
  automationId: Id.nullable(),
  trigger: RunTrigger,
  status: RunStatus,
  /** Why it was skipped, a duplicate or failed; null otherwise. */
  reason: z.string().nullable(),
  sessionId: Id.nullable(),
  /** True when this run joined an existing session as a follow-up prompt instead of starting one. */
  followUp: z.boolean(),
  /** The subject key deliveries are triaged by (e.g. `sentry:org:issue`), if any. */
  dedupeKey: z.string().nullable(),
  /** The schedule slot a cron run fired for. */
  scheduledFor: z.number().nullable(),
  /** Set when reporting the run's outcome back failed after the last retry. */
  reportError: z.string().nullable(),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
});
export type AutomationRun = z.infer<typeof AutomationRun>;

/** `POST /api/automations/:id/run`: "run now". A repeated `requestId` is the same run, not another. */
export const RunAutomationRequest = z.object({ requestId: RequestId.optional() });
export type RunAutomationRequest = z.infer<typeof RunAutomationRequest>;

export const ListAutomationsResponse = z.object({ automations: z.array(Automation) });

export const ListRunsQuery = z.object({
  /** The last run id of the previous page (runs are listed newest first). */
  before: Id.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

export const ListRunsResponse = z.object({ runs: z.array(AutomationRun), nextBefore: Id.nullable() });

/** `GET /api/automations/cron-preview?expression=&timeZone=&count=`. */
export const CronPreviewQuery = z.object({
  expression: CronExpression,
  timeZone: TimeZone.default("UTC"),
  count: z.coerce.number().int().min(1).max(20).default(5),
});
export type CronPreviewQuery = z.infer<typeof CronPreviewQuery>;

export const CronPreviewResponse = z.object({
  /** The next fire times, ms since the epoch, earliest first. */
  nextRuns: z.array(z.number()),
  /** The same times as ISO strings in the automation's time zone offset. */
  nextRunsLocal: z.array(z.string()),
});
export type CronPreviewResponse = z.infer<typeof CronPreviewResponse>;
