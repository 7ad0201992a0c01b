import type { Repository } from "@lookout/protocol";

/**
 * Which repository a Slack request works on, decided in order: an explicit `repo:owner/name` (or
 * a registered name) in the message, the thread's earlier choice, the channel's default, the only
 * registered repository. When none of these decides, the person is asked with a picker.
 */
export type RepositoryRoute =
  | { kind: "chosen"; repositoryId: string; why: "explicit" | "thread" | "channel-default" | "only-repository" }
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
  const mentioned = input.repositories.filter((r) => mentionsName(input.text, r));
  if (mentioned.length === 1) return { kind: "chosen", repositoryId: mentioned[0]!.id, why: "explicit" };
  if (input.repositories.length === 1) return { kind: "chosen", repositoryId: input.repositories[0]!.id, why: "only-repository" };
  const candidates = mentioned.length > 1 ? mentioned : input.repositories;
  return { kind: "ask", candidates: candidates.slice(0, MAX_PICKER_CANDIDATES) };
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
