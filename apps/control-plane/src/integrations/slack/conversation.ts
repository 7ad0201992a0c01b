import { toRepositoryDto, RepositoryStore } from "../../db/repositories";
import { TriggerDeliveryStore } from "../../db/trigger-deliveries";
import type { Env } from "../../env";
import { log } from "../../log";
import { sessionUrl } from "../../scm/pull-requests";
import { type AcceptedDelivery, acceptDelivery, processDelivery } from "../../triggers/dispatch";
import type { ExternalActor, TriggerEvent } from "../../triggers/types";
import type { SlackConfig } from "./config";
import { pickerMessage, statusMessage } from "./messages";
import { gatewayClassifier } from "../../triggers/gateway-classifier";
import { chooseRepository, classifierNote, type RepositoryRoute, withoutRepoReference } from "./routing";
import { parkRequest } from "./picker";
import { PICKER_TIMEOUT_MINUTES } from "./picker-expiry";
import { preferredModel } from "./preferences";
import { SlackStore, type SlackWorkspace, type ThreadKey } from "./store";
import type { SlackClient } from "./client";

/** Longest session title taken from a Slack message. */
const MAX_TITLE_CHARS = 120;

export interface SlackDeps {
  env: Env;
  config: SlackConfig;
  workspace: SlackWorkspace;
  client: SlackClient;
}

/** A message that asks Lookout for work: a mention, a DM, or a reply in a thread it owns. */
export interface IncomingMessage {
  teamId: string;
  channelId: string;
  user: string;
  text: string;
  ts: string;
  threadTs: string | null;
}

/** The thread a message belongs to: a top-level message starts its own. */
export function threadKeyOf(message: Pick<IncomingMessage, "teamId" | "channelId" | "ts" | "threadTs">): ThreadKey {
  return { teamId: message.teamId, channelId: message.channelId, threadTs: message.threadTs ?? message.ts };
}

/** The trigger core's subject for a thread: replies while its session is active become follow-ups. */
export function subjectOf(key: ThreadKey): string {
  return `slack:${key.teamId}:${key.channelId}:${key.threadTs}`;
}

/**
 * One request from Slack. Its delivery id is the message's `(channel, ts)`, so a retry (same
 * `event_id`) and the same message arriving as both `app_mention` and `message.im` are one
 * delivery: the second is a replay and does nothing. Then 👀, the requester's identity, the
 * repository (or a picker), and the trigger core starts the session or follows up on the thread's.
 */
export async function handleMessage(deps: SlackDeps, message: IncomingMessage): Promise<void> {
  const { env, client } = deps;
  const text = withoutMention(message.text, deps.workspace.botUserId);
  const key = threadKeyOf(message);
  const deliveryId = `${message.teamId}:${message.channelId}:${message.ts}`;
  const accepted = await acceptDelivery(env, null, { ...eventShell(deliveryId, key), actor: null });
  if (accepted.status === "replayed") return;
  await client.react(message.channelId, message.ts, "eyes");
  if (!text) {
    await new TriggerDeliveryStore(env.DB).finish(accepted.recordId, "skipped", "the message asks for nothing", null);
    await client.post(message.channelId, key.threadTs, {
      text: "Tell me what to do, e.g. `@Lookout fix the flaky signup test repo:acme/app`.",
    });
    return;
  }

  const store = new SlackStore(env.DB);
  const now = Date.now();
  // The first request claims the thread; later ones find its session and repository there.
  await store.claimThread(key, message.user, now);
  const thread = await store.thread(key);
  const repositories = (await new RepositoryStore(env.DB).list()).map(toRepositoryDto);
  const route = await chooseRepository(
    {
      text,
      repositories,
      threadRepositoryId: thread?.repositoryId ?? null,
      channelDefaultId: await store.channelDefault(key.teamId, key.channelId),
    },
    gatewayClassifier(env),
  );
  const deliveries = new TriggerDeliveryStore(env.DB);
  if (route.kind === "unknown") {
    const names = repositories.map((r) => `\`${r.fullName}\``).join(", ") || "none yet";
    await client.post(message.channelId, key.threadTs, {
      text: `I don't know a repository called \`${route.named}\`. Registered repositories: ${names}.`,
    });
    await deliveries.finish(accepted.recordId, "skipped", `no registered repository is called ${route.named}`, null);
    return;
  }
  // Thread = session: a reply that names another repository would otherwise be passed to the
  // thread's session, which works on the first one. Say so instead, and run nothing.
  if (
    route.kind === "chosen" &&
    route.why === "explicit" &&
    thread?.sessionId &&
    thread.repositoryId &&
    route.repositoryId !== thread.repositoryId
  ) {
    const current = repositories.find((r) => r.id === thread.repositoryId)?.fullName ?? "another repository";
    const named = repositories.find((r) => r.id === route.repositoryId)?.fullName ?? "that repository";
    await client.post(message.channelId, key.threadTs, {
      text: `This thread's session works on \`${current}\`, so I can't switch it to \`${named}\`. Mention me in a new message outside this thread with \`repo:${named}\` to start a session there.`,
    });
    await deliveries.finish(accepted.recordId, "skipped", `the thread's session works on ${current}, not ${named}`, null);
    return;
  }
  if (route.kind === "ask") {
    await parkRequest(env, key, text, now);
    const picker = pickerMessage(route.candidates, PICKER_TIMEOUT_MINUTES);
    const ts = await client.post(message.channelId, key.threadTs, picker);
    if (ts) await store.updateThread(key, { statusTs: ts }, now);
    await deliveries.finish(accepted.recordId, "skipped", "waiting for someone to pick the repository", null);
    return;
  }
  await startWork(
    deps,
    key,
    accepted,
    deliveryId,
    await actorOf(client, message.user),
    route.repositoryId,
    withoutRepoReference(text),
    route.why,
  );
}

/**
 * Hands a request to the trigger core with its Slack origin and the requester's model, keeping the
 * thread's one status message current: "starting" before, then the session link and a Stop button,
 * or the reason it could not start.
 */
export async function startWork(
  deps: SlackDeps,
  key: ThreadKey,
  accepted: AcceptedDelivery,
  deliveryId: string,
  actor: ExternalActor,
  repositoryId: string,
  text: string,
  why: Extract<RepositoryRoute, { kind: "chosen" }>["why"] | null = null,
): Promise<void> {
  const { env } = deps;
  const store = new SlackStore(env.DB);
  const repository = await new RepositoryStore(env.DB).get(repositoryId);
  const thread = await store.thread(key);
  // The status message names a repository the classifier chose, and how to choose another.
  const picked = why === "classifier" && repository ? classifierNote(repository.fullName) : null;
  const step = thread?.sessionId
    ? `Passing <@${actor.externalId}>'s reply to the session`
    : picked
      ? `${picked}. Starting a session`
      : `Starting a session on ${repository?.fullName ?? "the repository"}`;
  const statusTs = await showStatusOrLog(deps, key, thread?.statusTs ?? null, { step, sessionUrl: null, stoppableSessionId: null });
  await store.updateThread(key, { repositoryId, ...(statusTs ? { statusTs } : {}) }, Date.now());

  // A new session uses the model the requester chose in App Home (follow-ups keep the session's).
  const model = await preferredModel(env, key.teamId, actor.externalId);
  const event: TriggerEvent = {
    ...eventShell(deliveryId, key),
    actor,
    repositoryHint: { repositoryId },
    instructions: text,
    untrusted: [],
    origin: { kind: "slack", teamId: key.teamId, channelId: key.channelId, threadTs: key.threadTs },
    title: titleOf(text),
    ...(model ? { model } : {}),
  };
  const result = await processDelivery(env, null, event, accepted);
  if (result.sessionId && (result.status === "started" || result.status === "followed_up")) {
    await store.updateThread(key, { sessionId: result.sessionId }, Date.now());
    await showStatusOrLog(deps, key, statusTs, {
      step: result.status === "started" ? `Working on it${picked ? `. ${picked}` : ""}` : `Working on <@${actor.externalId}>'s follow-up`,
      sessionUrl: sessionUrl(env, result.sessionId),
      stoppableSessionId: result.sessionId,
    });
    return;
  }
  await showStatusOrLog(deps, key, statusTs, {
    step: `Could not start: ${result.reason ?? result.status}. Mention me again in this thread to retry.`,
    sessionUrl: thread?.sessionId ? sessionUrl(env, thread.sessionId) : null,
    stoppableSessionId: null,
  });
}

/** Updates the thread's status message in place, or posts it when the thread has none yet; returns its ts. */
export async function showStatus(
  deps: Pick<SlackDeps, "client">,
  key: ThreadKey,
  statusTs: string | null,
  view: Parameters<typeof statusMessage>[0],
): Promise<string | null> {
  const message = statusMessage(view);
  if (statusTs && (await deps.client.update(key.channelId, statusTs, message))) return statusTs;
  return deps.client.post(key.channelId, key.threadTs, message);
}

/**
 * `showStatus` for the request path: a status message Slack refuses (the bot left the channel, Slack
 * is down) is logged and the work goes on; the session's own reports retry through the outbox.
 */
async function showStatusOrLog(
  deps: Pick<SlackDeps, "client">,
  key: ThreadKey,
  statusTs: string | null,
  view: Parameters<typeof statusMessage>[0],
): Promise<string | null> {
  try {
    return await showStatus(deps, key, statusTs, view);
  } catch (error) {
    logFailure("could not show the Slack status message", error, { channelId: key.channelId, threadTs: key.threadTs });
    return statusTs;
  }
}

/** The person as Lookout records them: their Slack id, named as `users.info` shows them. */
export async function actorOf(client: SlackClient, userId: string): Promise<ExternalActor> {
  const profile = await client.userInfo(userId);
  return { provider: "slack", externalId: userId, displayName: profile?.name ?? userId, avatarUrl: profile?.avatarUrl ?? null };
}

function eventShell(
  deliveryId: string,
  key: ThreadKey,
): Pick<TriggerEvent, "source" | "deliveryId" | "dedupeKey" | "repositoryHint" | "instructions" | "untrusted"> {
  return { source: "slack", deliveryId, dedupeKey: subjectOf(key), repositoryHint: null, instructions: null, untrusted: [] };
}

/** The text without the bot's `<@U…>` mention(s). */
export function withoutMention(text: string, botUserId: string): string {
  return text.replaceAll(`<@${botUserId}>`, " ").replace(/\s+/g, " ").trim();
}

function titleOf(text: string): string {
  const line = text.split("\n")[0]!.trim();
  return line.length > MAX_TITLE_CHARS ? `${line.slice(0, MAX_TITLE_CHARS - 1)}…` : line || "Slack request";
}

export function logFailure(what: string, error: unknown, fields: Record<string, unknown> = {}): void {
  log.error(what, { ...fields, error });
}
