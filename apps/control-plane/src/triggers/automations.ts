import {
  type Automation,
  type AutomationTrigger,
  type CreateAutomationRequest,
  LookoutError,
  type UpdateAutomationRequest,
} from "@lookout/protocol";
import type { Principal } from "../auth/principal";
import { AutomationStore } from "../db/automations";
import { RepositoryStore } from "../db/repositories";
import { UserStore } from "../db/users";
import type { Env } from "../env";
import { newId } from "../session/ids";
import { validateSchedule } from "./cron";
import { dispatchTrigger } from "./dispatch";
import { triggerLimits } from "./limits";
import { wakeScheduler } from "./scheduler-object";
import type { DispatchResult } from "./types";

/**
 * Automations as the API changes them. Who may do what: anyone signed in reads every automation
 * (the team sees what runs on its repositories); a person creates automations they own; only the
 * owner or an admin changes, pauses, resumes, runs or deletes one. A service acting for a person
 * acts with that person's rights, but never an admin's (an actor is attribution, not authority).
 */

/** Who is acting, as automations see it. */
export interface AutomationActor {
  userId: string;
  name: string;
  admin: boolean;
}

export async function actorOf(env: Env, principal: Principal): Promise<AutomationActor> {
  if (principal.kind === "user") return { userId: principal.user.id, name: principal.user.name, admin: principal.user.role === "admin" };
  if (!principal.actor)
    throw new LookoutError("FORBIDDEN", "A service changes automations only when acting for a person; sign the request with an actor.");
  const user = await new UserStore(env.DB).get(principal.actor.userId);
  if (!user) throw new LookoutError("FORBIDDEN", "The service's actor is not a Lookout user.");
  return { userId: user.id, name: user.name, admin: false };
}

/** Refuses anyone but the automation's owner or an admin. */
export function assertCanChange(actor: AutomationActor, automation: Automation): void {
  if (actor.admin || actor.userId === automation.ownerId) return;
  throw new LookoutError("FORBIDDEN", `Only ${automation.ownerName} (its owner) or an admin can change this automation.`);
}

export async function getAutomation(env: Env, id: string): Promise<Automation> {
  const automation = /^[A-Za-z0-9_-]{1,128}$/.test(id) ? await new AutomationStore(env.DB).get(id) : null;
  if (!automation) throw new LookoutError("AUTOMATION_NOT_FOUND", `No automation has the id "${id}".`);
  return automation;
}

/** The next slot of an enabled schedule (validated), or null when it does not run on one. */
function nextRunAtFor(env: Env, trigger: AutomationTrigger, enabled: boolean, now: number): number | null {
  if (trigger.kind !== "cron") return null;
  // Validate even while paused: a schedule is stored only if it could run.
  const first = validateSchedule(trigger.expression, trigger.timeZone, triggerLimits(env).minCronIntervalMinutes, now);
  return enabled ? first : null;
}

async function assertRepository(env: Env, repositoryId: string): Promise<void> {
  if (!(await new RepositoryStore(env.DB).get(repositoryId))) {
    throw new LookoutError("REPOSITORY_NOT_FOUND", `No repository has the id "${repositoryId}"; register it first.`);
  }
}

async function rearm(env: Env, automation: Automation): Promise<void> {
  if (automation.nextRunAt !== null) await wakeScheduler(env, automation.nextRunAt);
}

export async function createAutomation(
  env: Env,
  actor: AutomationActor,
  input: CreateAutomationRequest,
  now: number = Date.now(),
): Promise<Automation> {
  await assertRepository(env, input.repositoryId);
  const automation: Automation = {
    id: newId("aut", now),
    name: input.name,
    instructions: input.instructions,
    repositoryId: input.repositoryId,
    baseBranch: input.baseBranch,
    model: input.model,
    reasoningEffort: input.reasoningEffort,
    trigger: input.trigger,
    triage: input.triage,
    maxConcurrentRuns: input.maxConcurrentRuns,
    enabled: input.enabled,
    pausedReason: input.enabled ? null : `Created paused by ${actor.name}`,
    consecutiveFailures: 0,
    nextRunAt: nextRunAtFor(env, input.trigger, input.enabled, now),
    ownerId: actor.userId,
    ownerName: actor.name,
    createdAt: now,
    updatedAt: now,
  };
  await new AutomationStore(env.DB).insert(automation);
  await rearm(env, automation);
  return automation;
}

export async function updateAutomation(
  env: Env,
  actor: AutomationActor,
  id: string,
  patch: UpdateAutomationRequest,
  now: number = Date.now(),
): Promise<Automation> {
  const current = await getAutomation(env, id);
  assertCanChange(actor, current);
  if (patch.repositoryId !== undefined) await assertRepository(env, patch.repositoryId);
  const merged: Automation = {
    ...current,
    name: or(patch.name, current.name),
    instructions: or(patch.instructions, current.instructions),
    repositoryId: or(patch.repositoryId, current.repositoryId),
    baseBranch: or(patch.baseBranch, current.baseBranch),
    model: or(patch.model, current.model),
    reasoningEffort: or(patch.reasoningEffort, current.reasoningEffort),
    trigger: or(patch.trigger, current.trigger),
    triage: or(patch.triage, current.triage),
    maxConcurrentRuns: or(patch.maxConcurrentRuns, current.maxConcurrentRuns),
    updatedAt: now,
  };
  const scheduleChanged = patch.trigger !== undefined;
  const updated: Automation = {
    ...merged,
    nextRunAt: scheduleChanged ? nextRunAtFor(env, merged.trigger, merged.enabled, now) : merged.nextRunAt,
  };
  await new AutomationStore(env.DB).update(updated);
  await rearm(env, updated);
  return updated;
}

export async function pauseAutomation(env: Env, actor: AutomationActor, id: string, now: number = Date.now()): Promise<Automation> {
  const current = await getAutomation(env, id);
  assertCanChange(actor, current);
  if (!current.enabled) return current;
  const paused: Automation = { ...current, enabled: false, pausedReason: `Paused by ${actor.name}`, nextRunAt: null, updatedAt: now };
  await new AutomationStore(env.DB).update(paused);
  return paused;
}

/** Resumes a paused automation; the failure count starts again from zero and the schedule from now. */
export async function resumeAutomation(env: Env, actor: AutomationActor, id: string, now: number = Date.now()): Promise<Automation> {
  const current = await getAutomation(env, id);
  assertCanChange(actor, current);
  const resumed: Automation = {
    ...current,
    enabled: true,
    pausedReason: null,
    consecutiveFailures: 0,
    nextRunAt: nextRunAtFor(env, current.trigger, true, now),
    updatedAt: now,
  };
  await new AutomationStore(env.DB).update(resumed);
  await rearm(env, resumed);
  return resumed;
}

export async function deleteAutomation(env: Env, actor: AutomationActor, id: string): Promise<void> {
  const current = await getAutomation(env, id);
  assertCanChange(actor, current);
  await new AutomationStore(env.DB).delete(id);
}

/** "Run now": one manual run through the same core as every trigger, caps and triage included. */
export async function runAutomationNow(
  env: Env,
  actor: AutomationActor,
  id: string,
  requestId: string | undefined,
  now: number = Date.now(),
): Promise<DispatchResult> {
  const automation = await getAutomation(env, id);
  assertCanChange(actor, automation);
  if (!automation.enabled) throw new LookoutError("AUTOMATION_PAUSED", `"${automation.name}" is paused; resume it before running it.`);
  return dispatchTrigger(
    env,
    automation,
    {
      source: "manual",
      deliveryId: `manual:${requestId ?? newId("req", now)}`,
      dedupeKey: null,
      actor: null,
      repositoryHint: null,
      instructions: null,
      untrusted: [],
    },
    now,
  );
}

/** A PATCH field that was sent (null included), else the current value. */
function or<T>(sent: T | undefined, current: T): T {
  return sent === undefined ? current : sent;
}
