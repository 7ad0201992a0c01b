import type { RunStatus, RunTrigger, SessionOrigin } from "@lookout/protocol";

/**
 * The one shape every trigger source produces. A source adapter verifies its request over the raw
 * bytes, then normalizes it into a `TriggerEvent`; `dispatchTrigger` (in `dispatch.ts`) does the
 * rest the same way for every source: record the delivery, triage, caps, start or follow up.
 */

/** Where work came from. `manual` is "run now". */
export type TriggerSource = RunTrigger;
export const TRIGGER_SOURCES = [
  "cron",
  "webhook",
  "sentry",
  "manual",
  "slack",
  "github",
  "linear",
] as const satisfies readonly TriggerSource[];

/** Platforms whose people are linked to Lookout users through `external_identities`. */
export type IdentityProvider = "slack" | "github" | "linear" | "sentry" | "webhook";

/** A person on another platform, as that platform names them. */
export interface ExternalActor {
  provider: IdentityProvider;
  /** The platform's stable id (Slack user id, GitHub numeric id, …), never a display name. */
  externalId: string;
  displayName: string;
  /** Their picture on the platform (Slack's `profile.image_72`), kept on the user created for them. */
  avatarUrl?: string | null;
}

/**
 * Text from outside (an alert, a payload, a comment). It reaches the agent only inside a fence
 * that says it is data, never instructions (`fenceUntrusted` in `prompt.ts`).
 */
export interface UntrustedBlock {
  /** What it is, shown in the fence's header: `Sentry issue`, `webhook payload`. */
  label: string;
  content: string;
}

/** Which repository the work is about, when the source knows better than the automation. */
export type RepositoryHint = { repositoryId: string } | { fullName: string };

export interface TriggerEvent {
  source: TriggerSource;
  /**
   * The sender's id for this delivery (Sentry `Request-ID`, a webhook's idempotency key, a cron
   * slot): a second delivery with the same id from the same source is a replay and changes nothing.
   */
  deliveryId: string;
  /**
   * The subject the delivery is about (`sentry:<org>:<issue>`, `webhook:<automation>:<key>`): a
   * delivery whose subject already has an active session is triaged instead of starting another.
   */
  dedupeKey: string | null;
  /** Who asked, on their platform; null means the automation's owner. */
  actor: ExternalActor | null;
  repositoryHint: RepositoryHint | null;
  /** What to do; null means the automation's instructions. */
  instructions: string | null;
  /** Outside text rendered after the instructions, each block fenced. */
  untrusted: UntrustedBlock[];
  /**
   * Where to report back. Automation runs leave it unset: their origin names the run, which
   * dispatch creates. Sources without an automation (Slack threads, GitHub comments) set it.
   */
  origin?: SessionOrigin;
  /** The branch the session starts from (a pull request's head); by default the automation's or the repository's. */
  baseBranch?: string;
  /** The branch the agent pushes to instead of its own (a pull request's branch, when direct pushes are allowed). */
  branch?: string;
  /** The model a new session uses (a person's preference on their platform); by default the automation's or the deployment's. */
  model?: string;
  /** A session title; by default the automation's name or the first line of the prompt. */
  title?: string;
  /** The schedule slot a cron delivery fires for (ms). */
  scheduledFor?: number;
  /**
   * Set by an adapter whose own conditions turned the delivery down (a JSONPath that did not match,
   * a Sentry level filtered out): the delivery and a skipped run are recorded with this reason.
   */
  skipReason?: string;
}

/** What became of a delivery. `replayed`: its delivery id was seen before; nothing else happened. */
export type DeliveryStatus = "received" | "started" | "followed_up" | "duplicate" | "skipped" | "replayed" | "refused" | "failed";

export interface DispatchResult {
  /** The `trigger_deliveries` row recording this delivery. */
  deliveryRecordId: string;
  status: DeliveryStatus;
  reason: string | null;
  runId: string | null;
  runStatus: RunStatus | null;
  sessionId: string | null;
}
