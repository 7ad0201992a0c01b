import { type GithubTriggerSettings, LookoutError } from "@lookout/protocol";
import { GithubTriggerStore } from "../../db/github-triggers";
import { RepositoryStore } from "../../db/repositories";
import { TriggerDeliveryStore } from "../../db/trigger-deliveries";
import { WebhookDeliveryStore } from "../../db/webhook-deliveries";
import type { Env } from "../../env";
import { log } from "../../log";
import { githubClient, githubPullRequestUrl } from "../../scm/github/settings";
import { sessionUrl } from "../../scm/pull-requests";
import { acceptDelivery, type AcceptedDelivery, processDelivery } from "../../triggers/dispatch";
import type { DispatchResult, TriggerEvent } from "../../triggers/types";
import { type GithubMentionApi, type MentionedPullRequest, mentionApi } from "./api";
import { type GithubMention, type MentionEvent, mentions, parseMentionEvent } from "./mention-payload";
import { mentionPrompt } from "./mention-prompt";
import { startedReply } from "./reply";

/**
 * A pull request @mention, after the route verified its signature: what is decided before GitHub
 * gets its answer (is it a new comment on a pull request, by a person, mentioning the App?), and
 * the work done after (who may ask, 👀, the session through the trigger core, the reply).
 */

export type ReceivedMention =
  | { status: "ignored"; reason: string }
  | { status: "replayed" }
  | { status: "accepted"; deliveryRecordId: string; work: () => Promise<void> };

/** Permissions that may ask for work; `triage` and `read` may not. */
const MAY_TRIGGER = new Set(["admin", "maintain", "write"]);

export async function receiveMention(env: Env, event: MentionEvent, deliveryId: string, raw: string): Promise<ReceivedMention> {
  const parsed = parseMentionEvent(event, raw);
  if (parsed.kind === "ignored") return { status: "ignored", reason: parsed.reason };
  const mention = parsed.mention;
  // Bots never ask for work, Lookout itself included: that is also what keeps it from answering itself.
  if (mention.author.bot) return { status: "ignored", reason: `${mention.author.login} is a bot` };
  if (!mention.comment.body.includes("@")) return { status: "ignored", reason: "the comment mentions no one" };
  const api = mentionApi(githubClient(env));
  const slug = await api.appSlug();
  if (!mentions(mention.comment.body, slug)) return { status: "ignored", reason: `the comment does not mention @${slug}` };

  const triggerEvent = { source: "github" as const, deliveryId, dedupeKey: subjectOf(mention) };
  const accepted = await acceptDelivery(env, null, { ...triggerEvent, ...emptyEvent(mention) });
  if (accepted.status === "replayed") return { status: "replayed" };
  return {
    status: "accepted",
    deliveryRecordId: accepted.recordId,
    work: () => serveMention(env, api, slug, mention, deliveryId, accepted),
  };
}

/** Mentions about the same pull request share a subject: one that arrives while its session is active follows up on it. */
export function subjectOf(mention: Pick<GithubMention, "fullName" | "pullRequest">): string {
  return `github:${mention.fullName.toLowerCase()}#${mention.pullRequest}`;
}

function emptyEvent(mention: GithubMention): Omit<TriggerEvent, "source" | "deliveryId" | "dedupeKey"> {
  return { actor: actorOf(mention), repositoryHint: { fullName: mention.fullName }, instructions: null, untrusted: [] };
}

function actorOf(mention: GithubMention): TriggerEvent["actor"] {
  return { provider: "github", externalId: String(mention.author.id), displayName: mention.author.login };
}

/**
 * Everything after the answer. It never throws: whatever goes wrong is recorded on the delivery
 * (and, past the caps, on its run) and logged.
 */
async function serveMention(
  env: Env,
  api: GithubMentionApi,
  slug: string,
  mention: GithubMention,
  deliveryId: string,
  accepted: AcceptedDelivery,
): Promise<void> {
  try {
    const repository = await new RepositoryStore(env.DB).findGithub(mention.owner, mention.name);
    const store = new GithubTriggerStore(env.DB);
    const settings = repository ? (await store.settings(repository.id)).settings : null;
    let skipReason: string | undefined;
    let pull: MentionedPullRequest | null = null;
    let access: Access = { allowed: false, canPush: false };
    if (!repository || !settings) skipReason = `${mention.fullName} is not registered in Lookout`;
    else if (!settings.enabled) skipReason = `GitHub mentions are turned off for ${mention.fullName}`;
    else if (!(access = await accessOf(api, mention, settings)).allowed) {
      skipReason = `@${mention.author.login} has no write access to ${mention.fullName} and is not on its allowlist`;
      await refuseOnce(env, api, slug, mention);
    } else {
      if (mention.comment.kind !== "review") await api.react(mention.owner, mention.name, mention.comment.kind, mention.comment.id, "eyes");
      pull = await api.pullRequest(mention.owner, mention.name, mention.pullRequest);
    }

    const event: TriggerEvent = {
      source: "github",
      deliveryId,
      dedupeKey: subjectOf(mention),
      ...emptyEvent(mention),
      ...(repository ? { repositoryHint: { repositoryId: repository.id } } : {}),
      ...(skipReason ? { skipReason, instructions: "" } : {}),
      ...(pull && settings ? { ...mentionPrompt(mention, pull, settings, access.canPush), origin: originOf(env, mention, pull) } : {}),
    };
    const result = await processDelivery(env, null, event, accepted);
    // Like the core's failed deliveries, a failed one gives its id back so GitHub's redelivery applies.
    if (result.status === "failed") await new WebhookDeliveryStore(env.DB).release("github", deliveryId);
    await replyTo(env, api, mention, pull, result);
  } catch (error) {
    const reason = `the mention could not be served: ${error instanceof Error ? error.message : String(error)}`;
    if (!(error instanceof LookoutError)) log.error("a GitHub mention could not be served", { deliveryId, error });
    else log.warn("a GitHub mention could not be served", { deliveryId, reason });
    const deliveries = new TriggerDeliveryStore(env.DB);
    if ((await deliveries.get(accepted.recordId))?.status === "received")
      await deliveries.finish(accepted.recordId, "failed", reason, null);
    await new WebhookDeliveryStore(env.DB).release("github", deliveryId);
  }
}

export interface Access {
  /** May ask for work: write access, or on the repository's allowlist. */
  allowed: boolean;
  /** May push to the repository's branches themselves (what a direct push acts for). */
  canPush: boolean;
}

/** People GitHub says have write access (admin, maintain, write), and the repository's allowlist. */
export async function accessOf(
  api: GithubMentionApi,
  mention: Pick<GithubMention, "owner" | "name" | "author">,
  settings: GithubTriggerSettings,
): Promise<Access> {
  const login = mention.author.login.toLowerCase();
  const allowlisted = settings.allowlist.some((allowed) => allowed.toLowerCase() === login);
  let canPush = false;
  try {
    canPush = MAY_TRIGGER.has(await api.permission(mention.owner, mention.name, mention.author.login));
  } catch (error) {
    // GitHub answers 404 for someone who is not a collaborator of a private repository.
    if (!(error instanceof LookoutError && error.code === "FORBIDDEN")) throw error;
  }
  return { allowed: canPush || allowlisted, canPush };
}

/** One polite reply per pull request to people who may not ask; later mentions by them are ignored quietly. */
async function refuseOnce(env: Env, api: GithubMentionApi, slug: string, mention: GithubMention): Promise<void> {
  const store = new GithubTriggerStore(env.DB);
  if (!(await store.claimRefusal(mention.fullName, mention.pullRequest, Date.now()))) return;
  const body = [
    `Thanks for the mention, @${mention.author.login}! @${slug} only takes work from people with write access to this repository`,
    "(or on the list of people its maintainers allowed), so it will not start on this request.",
    "A maintainer can mention it to ask for the same work.",
  ].join(" ");
  try {
    await api.comment(mention.owner, mention.name, mention.pullRequest, body);
  } catch (error) {
    await store.releaseRefusal(mention.fullName, mention.pullRequest);
    throw error;
  }
}

function originOf(env: Env, mention: GithubMention, pull: MentionedPullRequest): TriggerEvent["origin"] {
  return {
    kind: "github",
    repository: mention.fullName,
    pullRequest: mention.pullRequest,
    commentId: mention.comment.id,
    commentKind: mention.comment.kind,
    fork: pull.fork,
    url: githubPullRequestUrl(env, mention.fullName, mention.pullRequest),
  };
}

/**
 * Tells the pull request what happened: a started session gets the reply the GitHub sink edits
 * when it settles (in the review thread for a review comment); a session that could not start says
 * why. A follow-up's 👀 is its answer; its result lands in the first reply.
 */
async function replyTo(
  env: Env,
  api: GithubMentionApi,
  mention: GithubMention,
  pull: MentionedPullRequest | null,
  result: DispatchResult,
): Promise<void> {
  if (result.status === "started" && result.sessionId && pull) {
    const body = startedReply(sessionUrl(env, result.sessionId), pull.fork);
    const inThread = mention.comment.kind === "review-comment";
    const commentId = inThread
      ? await api.replyInThread(mention.owner, mention.name, mention.pullRequest, mention.comment.id, body)
      : await api.comment(mention.owner, mention.name, mention.pullRequest, body);
    await new GithubTriggerStore(env.DB).recordReply(
      {
        sessionId: result.sessionId,
        repository: mention.fullName,
        pullRequest: mention.pullRequest,
        commentKind: inThread ? "review-comment" : "issue",
        commentId,
        status: "working",
        summary: null,
        pullRequestUrl: null,
        fork: pull.fork,
      },
      Date.now(),
    );
  } else if (result.status === "failed" && pull) {
    await api.comment(
      mention.owner,
      mention.name,
      mention.pullRequest,
      `Lookout could not start on this: ${result.reason ?? "no reason given"}`,
    );
  }
}
