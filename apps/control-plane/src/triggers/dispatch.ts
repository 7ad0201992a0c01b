import { type Author, type Automation, LookoutError, type SessionOrigin } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { authorOf } from "../auth/principal";
import { ExternalIdentityStore } from "../db/external-identities";
import { RepositoryStore } from "../db/repositories";
import { type NewDelivery, TriggerDeliveryStore } from "../db/trigger-deliveries";
import { type NewRun, TriggerRunStore } from "../db/trigger-runs";
import { TriggerSubjectStore } from "../db/trigger-subjects";
import { UserStore } from "../db/users";
import type { Env } from "../env";
import { log } from "../log";
import { createSession } from "../routes/session-create";
import { newId } from "../session/ids";
import { unwrap } from "../session/rpc";
import { minutes, type TriggerLimits, triggerLimits } from "./limits";
import { composePrompt } from "./prompt";
import { settleRun } from "./runs";
import type { DispatchResult, TriggerEvent } from "./types";

/**
 * The trigger core: what every source does with a normalized event. `acceptDelivery` records it
 * (fast: a webhook answers right after it), `processDelivery` does the work (in the background).
 * `dispatchTrigger` is both in one call, for sources with no one waiting (cron, run now).
 */

export interface AcceptedDelivery {
  recordId: string;
  /** `replayed`: this delivery id was received before; processing it does nothing. */
  status: "received" | "replayed";
}

function newDelivery(
  automationId: string | null,
  event: Pick<TriggerEvent, "source" | "deliveryId" | "dedupeKey">,
  now: number,
): NewDelivery {
  return {
    id: newId("dlv", now),
    source: event.source,
    deliveryId: event.deliveryId,
    automationId,
    dedupeKey: event.dedupeKey,
    receivedAt: now,
  };
}

/** Records a delivery; a replay is recorded too, and reported so the caller can answer without work. */
export async function acceptDelivery(
  env: Env,
  automation: Automation | null,
  event: TriggerEvent,
  now: number = Date.now(),
): Promise<AcceptedDelivery> {
  const delivery = newDelivery(automation?.id ?? null, event, now);
  return { recordId: delivery.id, status: await new TriggerDeliveryStore(env.DB).record(delivery) };
}

/**
 * Records a delivery refused before it was trusted (bad signature, stale, unknown or paused
 * automation). It does not hold its delivery id, so the genuine delivery is still accepted.
 */
export async function recordRefusedDelivery(
  env: Env,
  automationId: string | null,
  event: Pick<TriggerEvent, "source" | "deliveryId" | "dedupeKey">,
  reason: string,
  now: number = Date.now(),
): Promise<string> {
  const delivery = newDelivery(automationId, event, now);
  await new TriggerDeliveryStore(env.DB).recordRefused(delivery, reason);
  return delivery.id;
}

/** Accepts and processes a delivery in one call. */
export async function dispatchTrigger(
  env: Env,
  automation: Automation | null,
  event: TriggerEvent,
  now: number = Date.now(),
): Promise<DispatchResult> {
  return processDelivery(env, automation, event, await acceptDelivery(env, automation, event, now), now);
}

/**
 * Does what a recorded delivery asks, in order: adapter conditions, triage against the subject's
 * active session, the caps (in one reserving statement), then a new session with the event's
 * origin. Every outcome is written to the delivery and, past a replay, to a run. It never throws for
 * a delivery that could not be served: that is recorded as a failed run and delivery.
 */
export async function processDelivery(
  env: Env,
  automation: Automation | null,
  event: TriggerEvent,
  accepted: AcceptedDelivery,
  now: number = Date.now(),
): Promise<DispatchResult> {
  const deliveries = new TriggerDeliveryStore(env.DB);
  const result = (status: DispatchResult["status"], reason: string | null, run: Partial<DispatchResult> = {}): DispatchResult => ({
    deliveryRecordId: accepted.recordId,
    status,
    reason,
    runId: run.runId ?? null,
    runStatus: run.runStatus ?? null,
    sessionId: run.sessionId ?? null,
  });
  if (accepted.status === "replayed") return result("replayed", "this delivery id was already received");
  if (automation && !automation.enabled) {
    const reason = `the automation is paused${automation.pausedReason ? ` (${automation.pausedReason})` : ""}`;
    await deliveries.finish(accepted.recordId, "skipped", reason, null);
    return result("skipped", reason);
  }

  const runs = new TriggerRunStore(env.DB);
  try {
    const limits = triggerLimits(env);
    const actor = event.actor ? await new ExternalIdentityStore(env.DB).resolve(event.actor, now) : null;
    const run: NewRun = {
      id: newId("run", now),
      automationId: automation?.id ?? null,
      deliveryRecordId: accepted.recordId,
      trigger: event.source,
      dedupeKey: event.dedupeKey,
      actorUserId: actor?.userId ?? null,
      scheduledFor: event.scheduledFor ?? null,
      now,
    };
    const settled = async (status: "skipped" | "duplicate" | "failed", reason: string) => {
      await runs.insertSettled(run, status, reason);
      await deliveries.finish(accepted.recordId, status, reason, run.id);
      return result(status, reason, { runId: run.id, runStatus: status });
    };

    if (event.skipReason) return await settled("skipped", event.skipReason);
    const instructions = event.instructions ?? automation?.instructions;
    if (!instructions) throw new Error(`a ${event.source} delivery without an automation must carry instructions`);
    const prompt = composePrompt(instructions, event.untrusted);

    const subjects = new TriggerSubjectStore(env.DB);
    if (event.dedupeKey) {
      const holder = await subjects.claim(event.dedupeKey, run.id, now, now - minutes(limits.triageIdleWindowMinutes));
      if (holder.state === "starting") {
        return await settled("duplicate", `another delivery about ${event.dedupeKey} is still starting its session (run ${holder.runId})`);
      }
      if (holder.state === "active") {
        if ((automation?.triage ?? "follow-up") === "duplicate") {
          return await settled("duplicate", `session ${holder.sessionId} is already working on ${event.dedupeKey}`);
        }
        return await followUp(
          env,
          run,
          accepted.recordId,
          holder.sessionId,
          await ownerOf(env, automation, actor),
          prompt,
          result,
          settled,
        );
      }
    }

    const reservation = await runs.reserve(run, capsFor(automation, limits));
    if (reservation.status === "skipped") {
      // The reservation already marked the delivery skipped, with this reason.
      if (event.dedupeKey) await subjects.release(event.dedupeKey, run.id);
      return result("skipped", reservation.reason, { runId: run.id, runStatus: "skipped" });
    }

    try {
      const repositoryId = await repositoryFor(env, automation, event);
      const { session, promptId } = await createSession(env, {
        owner: await ownerOf(env, automation, actor),
        repositoryId,
        title: event.title ?? automation?.name,
        baseBranch: event.baseBranch ?? automation?.baseBranch,
        branch: event.branch,
        model: event.model ?? automation?.model,
        reasoningEffort: automation?.reasoningEffort,
        prompt,
        requestId: `trigger:${run.id}`,
        origin: originOf(automation, event, run.id),
      });
      await runs.markRunning(run.id, session.id, promptId, now);
      if (event.dedupeKey) await subjects.attach(event.dedupeKey, run.id, session.id);
      await deliveries.finish(accepted.recordId, "started", null, run.id);
      return result("started", null, { runId: run.id, runStatus: "running", sessionId: session.id });
    } catch (error) {
      const reason = `could not start a session: ${error instanceof Error ? error.message : String(error)}`;
      if (!(error instanceof LookoutError)) log.error("a trigger could not start its session", { runId: run.id, error });
      if (event.dedupeKey) await subjects.release(event.dedupeKey, run.id);
      const stored = await runs.get(run.id);
      if (stored) await settleRun(env.DB, stored, { status: "failed", reason, countsAsFailure: true }, now);
      await deliveries.finish(accepted.recordId, "failed", reason, run.id);
      return result("failed", reason, { runId: run.id, runStatus: "failed" });
    }
  } catch (error) {
    // Anything before a run was reserved (bad limits, a bad event, D1 failing): record it and give the id back.
    const reason = `the delivery could not be processed: ${error instanceof Error ? error.message : String(error)}`;
    log.error("a trigger delivery could not be processed", { deliveryRecordId: accepted.recordId, error });
    await deliveries.finish(accepted.recordId, "failed", reason, null);
    return result("failed", reason);
  }
}

/** Sends the delivery to its subject's active session as a follow-up prompt. */
async function followUp(
  env: Env,
  run: NewRun,
  deliveryRecordId: string,
  sessionId: string,
  author: Author,
  prompt: string,
  result: (status: DispatchResult["status"], reason: string | null, run?: Partial<DispatchResult>) => DispatchResult,
  settled: (status: "skipped" | "duplicate" | "failed", reason: string) => Promise<DispatchResult>,
): Promise<DispatchResult> {
  try {
    const stub = await getAgentByName(env.SESSION, sessionId);
    const { promptId } = await unwrap(stub.sendPrompt(author, { requestId: `trigger:${deliveryRecordId}`, text: prompt }));
    await new TriggerRunStore(env.DB).insertFollowUp(run, sessionId, promptId);
    await new TriggerDeliveryStore(env.DB).finish(deliveryRecordId, "followed_up", null, run.id);
    return result("followed_up", null, { runId: run.id, runStatus: "running", sessionId });
  } catch (error) {
    if (!(error instanceof LookoutError)) throw error;
    return settled("failed", `could not follow up on session ${sessionId}: ${error.message}`);
  }
}

function capsFor(automation: Automation | null, limits: TriggerLimits) {
  return {
    maxConcurrentRuns: automation?.maxConcurrentRuns ?? null,
    maxNewSessionsPerHour: limits.maxNewSessionsPerHour,
    maxRunningSandboxes: limits.maxRunningSandboxes,
  };
}

/**
 * Who a triggered session belongs to: the automation's owner (accountable for what it runs), or
 * for sources without an automation the person who asked, as their linked or limited user.
 */
async function ownerOf(
  env: Env,
  automation: Automation | null,
  actor: { userId: string; name: string; avatarUrl?: string | null } | null,
): Promise<Author> {
  if (automation) {
    const user = await new UserStore(env.DB).get(automation.ownerId);
    return user ? authorOf(user) : { userId: automation.ownerId, name: automation.ownerName };
  }
  if (actor) return { userId: actor.userId, name: actor.name, ...(actor.avatarUrl ? { avatarUrl: actor.avatarUrl } : {}) };
  throw new Error("a delivery without an automation must name its actor");
}

async function repositoryFor(env: Env, automation: Automation | null, event: TriggerEvent): Promise<string> {
  const hint = event.repositoryHint;
  if (hint && "repositoryId" in hint) return hint.repositoryId;
  if (hint) {
    const [owner, name] = hint.fullName.split("/");
    const found = owner && name ? await new RepositoryStore(env.DB).findGithub(owner, name) : null;
    if (found) return found.id;
    if (!automation) throw new LookoutError("REPOSITORY_NOT_FOUND", `${hint.fullName} is not a registered repository.`);
  }
  if (automation) return automation.repositoryId;
  throw new LookoutError("REPOSITORY_NOT_FOUND", "The delivery names no repository and has no automation to take one from.");
}

function originOf(automation: Automation | null, event: TriggerEvent, runId: string): SessionOrigin {
  if (event.origin) return event.origin;
  if (!automation) throw new Error(`a ${event.source} delivery without an automation must say where to report`);
  const trigger = event.source === "cron" || event.source === "webhook" || event.source === "sentry" ? event.source : "manual";
  return { kind: "automation", automationId: automation.id, runId, trigger };
}
