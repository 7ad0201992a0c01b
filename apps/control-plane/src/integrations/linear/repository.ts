import { RepositoryStore } from "../../db/repositories";
import type { Env } from "../../env";
import { githubWebUrl } from "../../scm/github/settings";
import type { LinearAgent } from "./client";
import { LinearStore, normalizeRuleValue } from "./store";

/** A suggestion Linear is at least this sure of is taken without asking. */
export const SUGGESTION_CONFIDENCE = 0.7;
/** Most repositories an elicitation offers. */
const MAX_OPTIONS = 10;

export type RepositoryChoice =
  { kind: "chosen"; repositoryId: string; how: "remembered" | "rule" | "suggestion" | "only" } | { kind: "ask"; options: string[] };

export interface IssueRef {
  issueId: string;
  teamKey: string | null;
  agentSessionId: string;
}

/**
 * Which repository an issue's work happens in, in order: the one remembered for the issue, a
 * label, project or team rule, Linear's own suggestion when it is confident, the only registered
 * repository; otherwise the caller asks with an elicitation offering `options`.
 */
export async function chooseRepository(env: Env, linear: LinearAgent, issue: IssueRef): Promise<RepositoryChoice> {
  const store = new LinearStore(env.DB);
  const remembered = await store.issueRepository(issue.issueId);
  if (remembered) return { kind: "chosen", repositoryId: remembered, how: "remembered" };

  const rules = await store.rules();
  if (rules.length > 0) {
    const needsIssue = rules.some((rule) => rule.kind !== "team");
    const context = needsIssue ? await linear.issueContext(issue.issueId) : { projectId: null, labels: [] };
    const labels = new Set(context.labels.map((label) => normalizeRuleValue("label", label)));
    const match =
      rules.find((rule) => rule.kind === "label" && labels.has(rule.value)) ??
      rules.find((rule) => rule.kind === "project" && rule.value === context.projectId) ??
      rules.find((rule) => rule.kind === "team" && rule.value === issue.teamKey);
    if (match) return { kind: "chosen", repositoryId: match.repositoryId, how: "rule" };
  }

  const repositories = await new RepositoryStore(env.DB).list();
  if (repositories.length === 1 && repositories[0]) return { kind: "chosen", repositoryId: repositories[0].id, how: "only" };
  const github = repositories.filter((repository) => repository.kind === "github");
  const suggestions = await linear.repositorySuggestions(
    issue.issueId,
    issue.agentSessionId,
    new URL(githubWebUrl(env)).host,
    github.map((repository) => repository.fullName),
  );
  const best = suggestions[0];
  const suggested =
    best && best.confidence >= SUGGESTION_CONFIDENCE ? github.find((r) => r.fullName === best.repositoryFullName) : undefined;
  if (suggested) return { kind: "chosen", repositoryId: suggested.id, how: "suggestion" };

  // Offer Linear's guesses first, then the rest, so the likely answer is at the top of the list.
  const ranked = [...suggestions.map((s) => s.repositoryFullName), ...repositories.map((r) => r.fullName)];
  return { kind: "ask", options: [...new Set(ranked)].slice(0, MAX_OPTIONS) };
}

/** The repository an elicitation's answer names: an offered full name, matched without case or spaces. */
export async function repositoryFromAnswer(env: Env, options: string[], answer: string): Promise<string | null> {
  const wanted = answer.trim().replace(/^`|`$/g, "").toLowerCase();
  const name = options.find((option) => option.toLowerCase() === wanted);
  if (!name) return null;
  const repository = (await new RepositoryStore(env.DB).list()).find((candidate) => candidate.fullName === name);
  return repository?.id ?? null;
}
