import { type LinearMappingRule, LinearRuleKind } from "@lookout/protocol";
import { z } from "zod";

/** A Linear agent session as Lookout tracks it (D1 `linear_agent_sessions`). */
export interface LinearAgentSessionRecord {
  agentSessionId: string;
  organizationId: string;
  issueId: string;
  issueIdentifier: string;
  issueTitle: string;
  state: "awaiting_repository" | "started" | "stopped";
  /** The repositories an elicitation offered, by full name. */
  repositoryOptions: string[];
  /** The first prompt, kept while the repository is asked for. */
  pendingPrompt: PendingPrompt | null;
  repositoryId: string | null;
  sessionId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** What a `created` event asked for, kept until it can start a session. */
export const PendingPrompt = z.object({
  instructions: z.string(),
  context: z.string(),
  title: z.string(),
  actor: z.object({ externalId: z.string(), displayName: z.string() }).nullable(),
});
export type PendingPrompt = z.infer<typeof PendingPrompt>;

const SessionRow = z.object({
  agent_session_id: z.string(),
  organization_id: z.string(),
  issue_id: z.string(),
  issue_identifier: z.string(),
  issue_title: z.string(),
  state: z.enum(["awaiting_repository", "started", "stopped"]),
  repository_options: z.string(),
  pending_prompt: z.string().nullable(),
  repository_id: z.string().nullable(),
  session_id: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});

const RuleRow = z.object({ kind: LinearRuleKind, value: z.string(), repository_id: z.string() });

function toRecord(raw: unknown): LinearAgentSessionRecord {
  const row = SessionRow.parse(raw);
  return {
    agentSessionId: row.agent_session_id,
    organizationId: row.organization_id,
    issueId: row.issue_id,
    issueIdentifier: row.issue_identifier,
    issueTitle: row.issue_title,
    state: row.state,
    repositoryOptions: z.array(z.string()).parse(JSON.parse(row.repository_options)),
    pendingPrompt: row.pending_prompt === null ? null : PendingPrompt.parse(JSON.parse(row.pending_prompt)),
    repositoryId: row.repository_id,
    sessionId: row.session_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export type NewAgentSession = Pick<
  LinearAgentSessionRecord,
  "agentSessionId" | "organizationId" | "issueId" | "issueIdentifier" | "issueTitle"
>;

/**
 * Linear's agent sessions and the Lookout sessions behind them, the repository each issue works
 * in, and the team/project/label rules that choose one (D1, `0009_linear.sql`).
 */
export class LinearStore {
  constructor(private readonly db: D1Database) {}

  async agentSession(agentSessionId: string): Promise<LinearAgentSessionRecord | null> {
    const row = await this.db.prepare("SELECT * FROM linear_agent_sessions WHERE agent_session_id = ?").bind(agentSessionId).first();
    return row ? toRecord(row) : null;
  }

  /** Records that work started for an agent session (a `created` event, or an answered elicitation). */
  async markStarted(session: NewAgentSession, repositoryId: string, sessionId: string, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO linear_agent_sessions
           (agent_session_id, organization_id, issue_id, issue_identifier, issue_title, state, repository_id, session_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'started', ?6, ?7, ?8, ?8)
         ON CONFLICT (agent_session_id) DO UPDATE SET state = 'started', repository_id = excluded.repository_id,
           session_id = excluded.session_id, pending_prompt = NULL, updated_at = excluded.updated_at`,
      )
      .bind(
        session.agentSessionId,
        session.organizationId,
        session.issueId,
        session.issueIdentifier,
        session.issueTitle,
        repositoryId,
        sessionId,
        now,
      )
      .run();
  }

  /** Holds a first prompt while an elicitation asks which of `options` to work in. */
  async awaitRepository(session: NewAgentSession, options: string[], pending: PendingPrompt, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO linear_agent_sessions
           (agent_session_id, organization_id, issue_id, issue_identifier, issue_title, state, repository_options, pending_prompt, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'awaiting_repository', ?6, ?7, ?8, ?8)
         ON CONFLICT (agent_session_id) DO UPDATE SET state = 'awaiting_repository', repository_options = excluded.repository_options,
           pending_prompt = excluded.pending_prompt, updated_at = excluded.updated_at`,
      )
      .bind(
        session.agentSessionId,
        session.organizationId,
        session.issueId,
        session.issueIdentifier,
        session.issueTitle,
        JSON.stringify(options),
        JSON.stringify(pending),
        now,
      )
      .run();
  }

  async markStopped(agentSessionId: string, now: number): Promise<void> {
    await this.db
      .prepare("UPDATE linear_agent_sessions SET state = 'stopped', pending_prompt = NULL, updated_at = ?2 WHERE agent_session_id = ?1")
      .bind(agentSessionId, now)
      .run();
  }

  async issueRepository(issueId: string): Promise<string | null> {
    const row = await this.db
      .prepare("SELECT repository_id FROM linear_issue_repositories WHERE issue_id = ?")
      .bind(issueId)
      .first<{ repository_id: string }>();
    return row?.repository_id ?? null;
  }

  async rememberIssueRepository(issueId: string, repositoryId: string, now: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO linear_issue_repositories (issue_id, repository_id, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (issue_id) DO UPDATE SET repository_id = excluded.repository_id, updated_at = excluded.updated_at`,
      )
      .bind(issueId, repositoryId, now)
      .run();
  }

  async rules(): Promise<LinearMappingRule[]> {
    const { results } = await this.db.prepare("SELECT kind, value, repository_id FROM linear_repository_rules ORDER BY kind, value").all();
    return results.map((raw) => {
      const row = RuleRow.parse(raw);
      return { kind: row.kind, value: row.value, repositoryId: row.repository_id };
    });
  }

  /** Replaces every rule in one batch; label values are kept lower-cased, as they are matched. */
  async replaceRules(rules: LinearMappingRule[], now: number): Promise<void> {
    await this.db.batch([
      this.db.prepare("DELETE FROM linear_repository_rules"),
      ...rules.map((rule) =>
        this.db
          .prepare("INSERT INTO linear_repository_rules (kind, value, repository_id, created_at) VALUES (?1, ?2, ?3, ?4)")
          .bind(rule.kind, normalizeRuleValue(rule.kind, rule.value), rule.repositoryId, now),
      ),
    ]);
  }
}

export function normalizeRuleValue(kind: LinearMappingRule["kind"], value: string): string {
  const trimmed = value.trim();
  return kind === "label" ? trimmed.toLowerCase() : trimmed;
}
