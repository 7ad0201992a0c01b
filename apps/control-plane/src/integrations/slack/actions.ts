import { LookoutError } from "@lookout/protocol";
import { getAgentByName } from "agents";
import { ExternalIdentityStore } from "../../db/external-identities";
import { RepositoryStore, toRepositoryDto } from "../../db/repositories";
import { sessionUrl } from "../../scm/pull-requests";
import { unwrap } from "../../session/rpc";
import { acceptDelivery } from "../../triggers/dispatch";
import { type SlackDeps, actorOf, showStatus, startWork, subjectOf } from "./conversation";
import { homeView } from "./messages";
import { EXPIRED_PICKER_STEP, PICKER_TIMEOUT_MS } from "./picker-expiry";
import { modelPreferenceBlocks, preferredModel, setPreferredModel } from "./preferences";
import { SlackStore, type ThreadKey } from "./store";

/** Recent sessions App Home lists. */
const HOME_SESSIONS = 10;

/** The Stop button: stops the session's running prompt, as the person who pressed it. */
export async function stopFromButton(deps: SlackDeps, key: ThreadKey, sessionId: string, user: string): Promise<void> {
  const actor = await new ExternalIdentityStore(deps.env.DB).resolve(await actorOf(deps.client, user), Date.now());
  try {
    const stub = await getAgentByName(deps.env.SESSION, sessionId);
    await unwrap(stub.stopRun({ userId: actor.userId, name: actor.name }));
    await showStatus(deps, key, (await new SlackStore(deps.env.DB).thread(key))?.statusTs ?? null, {
      step: `Stopping, as <@${user}> asked`,
      sessionUrl: sessionUrl(deps.env, sessionId),
      stoppableSessionId: null,
    });
  } catch (error) {
    if (!(error instanceof LookoutError)) throw error;
    await deps.client.ephemeral(key.channelId, user, `Could not stop the session: ${error.message}`, key.threadTs);
  }
}

/**
 * A choice from the repository picker: remembered for the thread, and the parked request starts.
 * A choice made after the picker expired, or a second choice, starts nothing and says why.
 */
export async function pickRepository(deps: SlackDeps, key: ThreadKey, repositoryId: string, user: string, now: number): Promise<void> {
  const store = new SlackStore(deps.env.DB);
  const pending = await store.takePendingPrompt(key, now, PICKER_TIMEOUT_MS);
  if (!pending) {
    await deps.client.ephemeral(key.channelId, user, "This request already has its repository, or it expired.", key.threadTs);
    return;
  }
  if (now >= pending.expiresAt) {
    await showStatus(deps, key, (await store.thread(key))?.statusTs ?? null, {
      step: EXPIRED_PICKER_STEP,
      sessionUrl: null,
      stoppableSessionId: null,
    });
    return;
  }
  if (!(await new RepositoryStore(deps.env.DB).get(repositoryId))) {
    await store.setPendingPrompt(key, pending.prompt, now, pending.expiresAt);
    await deps.client.ephemeral(key.channelId, user, "That repository is no longer registered; pick another.", key.threadTs);
    return;
  }
  const deliveryId = `${key.teamId}:${key.channelId}:${key.threadTs}:picked`;
  const accepted = await acceptDelivery(deps.env, null, {
    source: "slack",
    deliveryId,
    dedupeKey: subjectOf(key),
    actor: null,
    repositoryHint: null,
    instructions: null,
    untrusted: [],
  });
  if (accepted.status === "replayed") return;
  const requester = (await store.thread(key))?.requestedBy ?? user;
  await startWork(deps, key, accepted, deliveryId, await actorOf(deps.client, requester), repositoryId, pending.prompt);
}

/**
 * App Home: the person's recent sessions from Slack, their default repository for DMs (the
 * default of their DM channel with Lookout, which App Home's event names) and the model their
 * sessions from Slack start with.
 */
export async function publishHome(deps: SlackDeps, user: string, dmChannelId: string | null): Promise<void> {
  const store = new SlackStore(deps.env.DB);
  const threads = await store.threadsRequestedBy(deps.workspace.teamId, user, HOME_SESSIONS);
  const preferences = dmChannelId
    ? {
        dmChannelId,
        repositories: (await new RepositoryStore(deps.env.DB).list()).map(toRepositoryDto),
        defaultRepositoryId: await store.channelDefault(deps.workspace.teamId, dmChannelId),
      }
    : null;
  const view = homeView(threads, (id) => sessionUrl(deps.env, id), preferences);
  const hasPreferences = view.blocks.some((block) => "text" in block && block.type === "header" && block.text.text === "Preferences");
  view.blocks.push(
    ...(hasPreferences ? [] : [{ type: "header" as const, text: { type: "plain_text" as const, text: "Preferences" } }]),
    ...modelPreferenceBlocks(deps.env, await preferredModel(deps.env, deps.workspace.teamId, user), dmChannelId),
  );
  await deps.client.web.views.publish({ user_id: user, view });
}

/** A model chosen in App Home: the sessions the person starts from Slack use it from now on. */
export async function setHomeModel(deps: SlackDeps, user: string, dmChannelId: string | null, model: string): Promise<void> {
  if (!(await setPreferredModel(deps.env, deps.workspace.teamId, user, model))) return;
  await publishHome(deps, user, dmChannelId);
}

/** A default repository chosen in App Home: it becomes the default of the person's DM channel. */
export async function setHomeDefault(deps: SlackDeps, user: string, dmChannelId: string, repositoryId: string): Promise<void> {
  if (!(await new RepositoryStore(deps.env.DB).get(repositoryId))) return;
  await new SlackStore(deps.env.DB).setChannelDefault({
    teamId: deps.workspace.teamId,
    channelId: dmChannelId,
    repositoryId,
    updatedAt: Date.now(),
  });
  await publishHome(deps, user, dmChannelId);
}

/**
 * `/lookout repo owner/name` sets the channel's default repository; `/lookout` alone says which it
 * is. The answer is ephemeral: only the person who asked sees it.
 */
export async function slashCommand(deps: SlackDeps, channelId: string, text: string): Promise<string> {
  const store = new SlackStore(deps.env.DB);
  const repositories = new RepositoryStore(deps.env.DB);
  const [verb, name] = text.trim().split(/\s+/);
  if (verb === "repo" && name) {
    const [owner, repo] = name.split("/");
    const found =
      owner && repo
        ? await repositories.findGithub(owner, repo)
        : (await repositories.list()).find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!found) return `\`${name}\` is not a registered repository; register it in the Lookout dashboard first.`;
    await store.setChannelDefault({ teamId: deps.workspace.teamId, channelId, repositoryId: found.id, updatedAt: Date.now() });
    return `Mentions in <#${channelId}> now work on \`${found.fullName}\` unless they name another repository.`;
  }
  const current = await store.channelDefault(deps.workspace.teamId, channelId);
  const record = current ? await repositories.get(current) : null;
  return `${record ? `This channel's default repository is \`${record.fullName}\`.` : "This channel has no default repository."} Set one with \`/lookout repo owner/name\`.`;
}
