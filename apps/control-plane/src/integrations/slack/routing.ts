import type { Repository } from "@lookout/protocol";
import type { Classification, ClassificationInput } from "../../triggers/repository-classifier";

/**
 * Which repository a Slack request works on, decided in order: an explicit `repo:owner/name` (or
 * a registered name) in the message, the thread's earlier choice, the channel's default, a
 * registered `owner/name` written in the message, the only registered repository, then the
 * classifier (`chooseRepository`). When none of these decides, the person is asked with a picker.
 */
export type RepositoryRoute =
  | { kind: "chosen"; repositoryId: string; why: "explicit" | "thread" | "channel-default" | "only-repository" | "classifier" }
  | { kind: "ask"; candidates: Repository[] }
  | { kind: "unknown"; named: string };

/** `repo:owner/name` or `repo:name`; the name Slack may wrap as a link `<https://…|owner/name>` is not a repo reference. */
const EXPLICIT_REPO = /(?:^|\s)repo:([A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)?)(?=\s|$|[.,;:!?])/i;

/** The most candidates a picker offers (Slack's static select takes 100 options; a short list stays usable). */
export const MAX_PICKER_CANDIDATES = 25;

export interface RoutingInput {
  text: string;
  repositories: Repository[];
  threadRepositoryId: string | null;
  channelDefaultId: string | null;
}

export function routeRepository(input: RoutingInput): RepositoryRoute {
  const explicit = EXPLICIT_REPO.exec(input.text)?.[1];
  if (explicit) {
    const found = findByName(input.repositories, explicit);
    return found ? { kind: "chosen", repositoryId: found.id, why: "explicit" } : { kind: "unknown", named: explicit };
  }
  const known = (id: string | null) => (id && input.repositories.some((r) => r.id === id) ? id : null);
  const thread = known(input.threadRepositoryId);
  if (thread) return { kind: "chosen", repositoryId: thread, why: "thread" };
  const channel = known(input.channelDefaultId);
  if (channel) return { kind: "chosen", repositoryId: channel, why: "channel-default" };
  const mentioned = mentionedIn(input);
  if (mentioned.length === 1) return { kind: "chosen", repositoryId: mentioned[0]!.id, why: "explicit" };
  if (input.repositories.length === 1) return { kind: "chosen", repositoryId: input.repositories[0]!.id, why: "only-repository" };
  return { kind: "ask", candidates: undecided(input, mentioned).slice(0, MAX_PICKER_CANDIDATES) };
}

/**
 * `routeRepository`, then, when it would ask, the classifier over the same candidates (all of them,
 * not only the picker's first `MAX_PICKER_CANDIDATES`): a confident pick is `why: "classifier"`,
 * anything else still asks. Runs in the background part of a Slack request, after the ack.
 */
export async function chooseRepository(
  input: RoutingInput,
  classify: (input: ClassificationInput) => Promise<Classification>,
): Promise<RepositoryRoute> {
  const route = routeRepository(input);
  if (route.kind !== "ask") return route;
  const verdict = await classify({ text: input.text, source: "Slack message", candidates: undecided(input, mentionedIn(input)) });
  return verdict.kind === "confident" ? { kind: "chosen", repositoryId: verdict.repository.id, why: "classifier" } : route;
}

/**
 * What the status message tells the person when the classifier chose: which repository, and how to
 * choose another. A thread keeps its session's repository, so another one takes a new thread.
 */
export function classifierNote(fullName: string): string {
  return `Picked ${fullName} from the message — for another repository, mention me in a new thread with \`repo:owner/name\``;
}

function mentionedIn(input: RoutingInput): Repository[] {
  return input.repositories.filter((r) => mentionsName(input.text, r));
}

/** The repositories still in question: those the message names when it names several, else all. */
function undecided(input: RoutingInput, mentioned: Repository[]): Repository[] {
  return mentioned.length > 1 ? mentioned : input.repositories;
}

/** Removes the `repo:` reference so the agent gets the request itself. */
export function withoutRepoReference(text: string): string {
  return text.replace(EXPLICIT_REPO, " ").replace(/\s+/g, " ").trim();
}

function findByName(repositories: Repository[], named: string): Repository | undefined {
  const wanted = named.toLowerCase();
  return (
    repositories.find((r) => r.fullName.toLowerCase() === wanted) ??
    (wanted.includes("/") ? undefined : repositories.find((r) => r.name.toLowerCase() === wanted))
  );
}

/** A registered `owner/name` written as a word of its own in the message. */
function mentionsName(text: string, repository: Repository): boolean {
  if (!repository.fullName.includes("/")) return false;
  const escaped = repository.fullName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?:^|[\\s(\`])${escaped}(?=$|[\\s).,;:!?\`])`, "i").test(text);
}
