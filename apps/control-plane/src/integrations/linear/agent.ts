import { type Author, LookoutError } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { ExternalIdentityStore } from "../../db/external-identities";
import { TriggerDeliveryStore } from "../../db/trigger-deliveries";
import type { Env } from "../../env";
import { log } from "../../log";
import { unwrap } from "../../session/rpc";
import { type AcceptedDelivery, processDelivery } from "../../triggers/dispatch";
import type { ExternalActor, TriggerEvent } from "../../triggers/types";
import { LinearAgent } from "./client";
import { chooseRepository, repositoryFromAnswer } from "./repository";
import { type LinearAgentSessionRecord, LinearStore, type NewAgentSession, type PendingPrompt } from "./store";
import type { AgentSessionEvent } from "./webhook";

/** The triage subject of one Linear agent session: its prompts follow up on the same Lookout session. */
export function subjectOf(agentSessionId: string): string {
  return `linear:agent-session:${agentSessionId}`;
}

export function dashboardUrl(env: Pick<Env, "PUBLIC_URL">, sessionId: string): string {
  return `${env.PUBLIC_URL.replace(/\/+$/, "")}/sessions/${sessionId}`;
}

interface Delivery {
  deliveryId: string;
  accepted: AcceptedDelivery;
  now: number;
}

/**
 * Does what one verified, recorded agent session event asks, after the webhook has answered. A
 * `created` event posts a `thought` first (Linear shows the session as unresponsive without one
 * within 10 s), then picks the repository, starts the session through the trigger core and links
 * it; a `prompted` event follows up, answers an elicitation, or stops the session.
 */
export async function handleAgentSessionEvent(env: Env, event: AgentSessionEvent, delivery: Delivery): Promise<void> {
  const agentSessionId = event.agentSession.id;
  let linear: LinearAgent | null = null;
  try {
    linear = await LinearAgent.forOrganization(env, event.organizationId, delivery.now);
    if (event.action === "created") await onCreated(env, linear, event, delivery);
    else await onPrompted(env, linear, event, delivery);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (!(error instanceof LookoutError)) log.error("a Linear agent session event failed", { agentSessionId, error });
    await new TriggerDeliveryStore(env.DB).finish(delivery.accepted.recordId, "failed", reason, null);
    await linear
      ?.activity(agentSessionId, `${delivery.deliveryId}:error`, { type: "error", body: `Lookout could not act on this: ${reason}` })
      .catch((postError: unknown) => log.warn("could not report a failure to Linear", { agentSessionId, error: postError }));
  }
}

async function onCreated(env: Env, linear: LinearAgent, event: AgentSessionEvent, delivery: Delivery): Promise<void> {
  const { agentSession } = event;
  const issue = agentSession.issue;
  await linear.activity(agentSession.id, `${delivery.deliveryId}:thought`, {
    type: "thought",
    body: issue ? `Reading ${issue.identifier} and choosing where to work…` : "Reading the request…",
  });
  if (!issue) {
    await finish(env, delivery, "skipped", "the agent session is not on an issue");
    await linear.activity(agentSession.id, `${delivery.deliveryId}:response`, {
      type: "response",
      body: "Lookout works on issues: mention or assign it on an issue to start.",
    });
    return;
  }
  const session: NewAgentSession = {
    agentSessionId: agentSession.id,
    organizationId: event.organizationId,
    issueId: issue.id,
    issueIdentifier: issue.identifier,
    issueTitle: issue.title,
  };
  const pending: PendingPrompt = {
    instructions: instructionsFor(issue.identifier),
    context: event.promptContext ?? [issue.title, agentSession.comment?.body ?? ""].join("\n\n"),
    title: `${issue.identifier}: ${issue.title}`,
    actor: agentSession.creator ? { externalId: agentSession.creator.id, displayName: agentSession.creator.name } : null,
  };
  const choice = await chooseRepository(env, linear, {
    issueId: issue.id,
    teamKey: issue.team?.key ?? null,
    agentSessionId: agentSession.id,
  });
  if (choice.kind === "ask") {
    await askForRepository(env, linear, session, choice.options, pending, delivery);
    return;
  }
  await start(env, linear, session, choice.repositoryId, pending, delivery);
}

async function onPrompted(env: Env, linear: LinearAgent, event: AgentSessionEvent, delivery: Delivery): Promise<void> {
  const agentSessionId = event.agentSession.id;
  const store = new LinearStore(env.DB);
  const record = await store.agentSession(agentSessionId);
  const activity = event.agentActivity;
  const person = activity?.user ?? event.agentSession.creator ?? null;
  const actor: ExternalActor | null = person ? { provider: "linear", externalId: person.id, displayName: person.name } : null;
  const body = activity?.content.body ?? "";

  if (activity?.signal === "stop") {
    await stop(env, linear, record, actor, delivery);
    return;
  }
  if (!record || record.state === "stopped") {
    await finish(env, delivery, "skipped", "no Lookout session belongs to this agent session");
    await linear.activity(agentSessionId, `${delivery.deliveryId}:response`, {
      type: "response",
      body: "This conversation has no Lookout session any more; mention Lookout again to start a new one.",
    });
    return;
  }
  if (record.state === "awaiting_repository") {
    const repositoryId = await repositoryFromAnswer(env, record.repositoryOptions, body);
    if (!repositoryId || !record.pendingPrompt) {
      await askForRepository(env, linear, record, record.repositoryOptions, record.pendingPrompt, delivery);
      return;
    }
    await start(env, linear, record, repositoryId, record.pendingPrompt, delivery);
    return;
  }

  await linear.activity(agentSessionId, `${delivery.deliveryId}:thought`, {
    type: "thought",
    body: "Got it — passing that on to the session.",
  });
  const name = person?.name ?? "someone";
  await start(
    env,
    linear,
    record,
    record.repositoryId ?? "",
    {
      instructions: `A follow-up from ${name} on ${record.issueIdentifier} in Linear. Continue the work with it in mind.`,
      context: body,
      title: `${record.issueIdentifier}: ${record.issueTitle}`,
      actor: actor ? { externalId: actor.externalId, displayName: actor.displayName } : null,
    },
    delivery,
  );
}

/**
 * Hands the prompt to the trigger core under the agent session's subject: the first prompt starts
 * a session, later ones follow up on it while it is active. A session that starts is linked from
 * Linear and its repository remembered for the issue; one that cannot start is reported as an error.
 */
async function start(
  env: Env,
  linear: LinearAgent,
  session: NewAgentSession,
  repositoryId: string,
  pending: PendingPrompt,
  delivery: Delivery,
): Promise<void> {
  const event: TriggerEvent = {
    source: "linear",
    deliveryId: delivery.deliveryId,
    dedupeKey: subjectOf(session.agentSessionId),
    actor: {
      provider: "linear",
      externalId: pending.actor?.externalId ?? `organization:${session.organizationId}`,
      displayName: pending.actor?.displayName ?? "Linear",
    },
    repositoryHint: { repositoryId },
    instructions: pending.instructions,
    untrusted: [{ label: "Linear issue and request", content: pending.context }],
    origin: { kind: "linear", agentSessionId: session.agentSessionId, issueId: session.issueId },
    title: pending.title,
  };
  const result = await processDelivery(env, null, event, delivery.accepted, delivery.now);
  if (result.status === "started" && result.sessionId) {
    const store = new LinearStore(env.DB);
    await store.markStarted(session, repositoryId, result.sessionId, delivery.now);
    await store.rememberIssueRepository(session.issueId, repositoryId, delivery.now);
    await linear.setExternalUrl(session.agentSessionId, dashboardUrl(env, result.sessionId));
    return;
  }
  if (result.status === "followed_up") return;
  await linear.activity(session.agentSessionId, `${delivery.deliveryId}:error`, {
    type: "error",
    body: `Lookout did not start work: ${result.reason ?? result.status}.`,
  });
}

async function askForRepository(
  env: Env,
  linear: LinearAgent,
  session: NewAgentSession,
  options: string[],
  pending: PendingPrompt | null,
  delivery: Delivery,
): Promise<void> {
  if (options.length === 0 || !pending) {
    await finish(env, delivery, "skipped", "no repository is registered in Lookout");
    await linear.activity(session.agentSessionId, `${delivery.deliveryId}:error`, {
      type: "error",
      body: "No repository is registered in Lookout yet; add one under Repositories, then mention Lookout again.",
    });
    return;
  }
  await new LinearStore(env.DB).awaitRepository(session, options, pending, delivery.now);
  await finish(env, delivery, "skipped", "asked which repository to work in");
  await linear.activity(
    session.agentSessionId,
    `${delivery.deliveryId}:elicitation`,
    { type: "elicitation", body: `Which repository should I work in for ${session.issueIdentifier}?` },
    { select: options },
  );
}

/** The stop signal: stops the running prompt; the session's report of the stopped prompt answers in Linear. */
async function stop(
  env: Env,
  linear: LinearAgent,
  record: LinearAgentSessionRecord | null,
  actor: ExternalActor | null,
  delivery: Delivery,
): Promise<void> {
  const agentSessionId = record?.agentSessionId;
  if (record?.sessionId && actor) {
    const user = await new ExternalIdentityStore(env.DB).resolve(actor, delivery.now);
    const author: Author = { userId: user.userId, name: user.name };
    const stub = await getAgentByName(env.SESSION, record.sessionId);
    try {
      await unwrap(stub.stopRun(author));
      await finish(env, delivery, "skipped", "stop signal: the running prompt was stopped");
      return;
    } catch (error) {
      if (!(error instanceof LookoutError) || error.code !== "NOTHING_RUNNING") throw error;
    }
  }
  if (agentSessionId && record?.state === "awaiting_repository") await new LinearStore(env.DB).markStopped(agentSessionId, delivery.now);
  await finish(env, delivery, "skipped", "stop signal: nothing was running");
  if (record) {
    await linear.activity(record.agentSessionId, `${delivery.deliveryId}:response`, {
      type: "response",
      body: "Stopped. Nothing is running.",
    });
  }
}

async function finish(env: Env, delivery: Delivery, status: "skipped" | "failed", reason: string): Promise<void> {
  await new TriggerDeliveryStore(env.DB).finish(delivery.accepted.recordId, status, reason, null);
}

/** What the agent is told besides the issue: where the identifier goes so Linear links the pull request. */
export function instructionsFor(identifier: string): string {
  return [
    `Work on Linear issue ${identifier}, as asked in the issue and request below.`,
    `When you open a pull request, start its title with "${identifier}: " and put "Fixes ${identifier}" in its body,`,
    `and name its branch with ${identifier.toLowerCase()} in it, so Linear attaches the pull request to the issue.`,
  ].join(" ");
}
