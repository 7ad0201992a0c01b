import { getAgentByName } from "agents";
import type { Env } from "../../env";
import { unwrap } from "../../session/rpc";

/**
 * A fork's pull request gets no push: its session answers with a suggested patch instead. The
 * patch is the diff the bridge reported with the prompt's commit (`files.changed`, `git diff` from
 * the head the prompt started on to the commit it made), read from the session's event log.
 */

/** Longest patch put into a reply; a longer one would be cut, and a cut patch does not apply. */
export const MAX_SUGGESTED_PATCH_CHARS = 15_000;
const EVENTS_PAGE = 500;

/** The prompt's diff, or null when the prompt changed nothing. */
export async function promptDiff(env: Env, sessionId: string, promptId: string): Promise<string | null> {
  const stub = await getAgentByName(env.SESSION, sessionId);
  let after = 0;
  let diff: string | null = null;
  for (;;) {
    const page = await unwrap(stub.eventsAfter(after, EVENTS_PAGE));
    for (const event of page.events) {
      // One evolving row per prompt: the last one read is the current one.
      if (event.payload.type === "files.changed" && event.payload.promptId === promptId) diff = event.payload.diff ?? null;
    }
    const last = page.events.at(-1)?.seq;
    if (last === undefined || last >= page.latestSeq) return diff?.trim() ? diff : null;
    after = last;
  }
}

/** The summary with the suggested patch after it, in a fenced `diff` block GitHub renders. */
export function withSuggestedPatch(summary: string | null, diff: string | null): string | null {
  if (diff === null) return summary;
  const patch =
    diff.length > MAX_SUGGESTED_PATCH_CHARS
      ? "The suggested patch is too long for a comment; it is in the session."
      : ["Suggested patch (`git apply` it on the pull request's head):", "", `${fenceFor(diff)}diff`, diff.trimEnd(), fenceFor(diff)].join(
          "\n",
        );
  return summary?.trim() ? `${summary.trim()}\n\n${patch}` : patch;
}

/** A code fence longer than any run of backticks in `text`, so the text cannot close it. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((run) => run[0].length));
  return "`".repeat(Math.max(3, longest + 1));
}
