import {
  type Author,
  type ModelRef,
  type ParticipantRole,
  type ReasoningEffort,
  type SandboxStatus,
  SessionOrigin,
  type SessionState,
  type SessionStatus,
} from "@lookout/protocol";
import { one, type Sql } from "./sql";

/** What a sandbox needs to know about the session's repository. */
export interface SessionRepository {
  id: string;
  kind: "local" | "github";
  fullName: string;
  path: string | null;
  cloneUrl: string | null;
}

export interface SessionRecord {
  id: string;
  title: string;
  repository: SessionRepository;
  baseBranch: string;
  branch: string;
  model: ModelRef;
  reasoningEffort: ReasoningEffort | null;
  status: SessionStatus;
  archived: boolean;
  owner: Author;
  parentSessionId: string | null;
  /** Where the work came from (`api` for sessions stored before origins were recorded). */
  origin: SessionOrigin;
  costUsd: number;
  createdAt: number;
  updatedAt: number;
}

interface SessionRow extends Record<string, string | number | null> {
  id: string;
  title: string;
  repository_id: string;
  repository_json: string;
  base_branch: string;
  branch: string;
  model: string;
  reasoning_effort: string | null;
  status: string;
  archived: number;
  owner_json: string;
  parent_session_id: string | null;
  origin_json: string | null;
  cost_usd: number;
  created_at: number;
  updated_at: number;
}

export interface Participant {
  author: Author;
  role: ParticipantRole;
  joinedAt: number;
}

/** The session's own row and its participants, mapped between SQL and camelCase in one place. */
export class SessionStore {
  constructor(private readonly sql: Sql) {}

  get(): SessionRecord | null {
    const row = one(this.sql.exec<SessionRow>(`SELECT * FROM session LIMIT 1`));
    return row ? toRecord(row) : null;
  }

  create(record: SessionRecord): void {
    this.sql.exec(
      `INSERT INTO session (id, title, repository_id, repository_json, base_branch, branch, model, reasoning_effort, status,
         archived, owner_json, parent_session_id, origin_json, cost_usd, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      record.id,
      record.title,
      record.repository.id,
      JSON.stringify(record.repository),
      record.baseBranch,
      record.branch,
      record.model,
      record.reasoningEffort,
      record.status,
      record.archived ? 1 : 0,
      JSON.stringify(record.owner),
      record.parentSessionId,
      JSON.stringify(record.origin),
      record.costUsd,
      record.createdAt,
      record.updatedAt,
    );
  }

  update(patch: Partial<Pick<SessionRecord, "title" | "status" | "archived" | "costUsd">>, now: number): void {
    const current = this.get();
    if (!current) return;
    const next = { ...current, ...patch };
    this.sql.exec(
      `UPDATE session SET title = ?, status = ?, archived = ?, cost_usd = ?, updated_at = ?`,
      next.title,
      next.status,
      next.archived ? 1 : 0,
      next.costUsd,
      now,
    );
  }

  addParticipant(author: Author, role: ParticipantRole, now: number): boolean {
    const existing = one(this.sql.exec<{ user_id: string }>(`SELECT user_id FROM participants WHERE user_id = ?`, author.userId));
    if (existing) {
      this.sql.exec(`UPDATE participants SET author_json = ? WHERE user_id = ?`, JSON.stringify(author), author.userId);
      return false;
    }
    this.sql.exec(
      `INSERT INTO participants (user_id, author_json, role, joined_at) VALUES (?, ?, ?, ?)`,
      author.userId,
      JSON.stringify(author),
      role,
      now,
    );
    return true;
  }

  /** Gives a person a role, adding them if they had not joined; true when they are new. */
  setRole(author: Author, role: ParticipantRole, now: number): boolean {
    const added = this.addParticipant(author, role, now);
    if (!added) this.sql.exec(`UPDATE participants SET role = ? WHERE user_id = ?`, role, author.userId);
    return added;
  }

  participants(): Participant[] {
    return this.sql
      .exec<{ author_json: string; role: string; joined_at: number }>(
        `SELECT author_json, role, joined_at FROM participants ORDER BY joined_at`,
      )
      .map((row) => ({ author: JSON.parse(row.author_json) as Author, role: row.role as ParticipantRole, joinedAt: row.joined_at }));
  }

  roleOf(userId: string): ParticipantRole | null {
    return (
      (one(this.sql.exec<{ role: string }>(`SELECT role FROM participants WHERE user_id = ?`, userId))?.role as
        ParticipantRole | undefined) ?? null
    );
  }
}

export function toState(record: SessionRecord, sandboxStatus: SandboxStatus): SessionState {
  return {
    id: record.id,
    title: record.title,
    repositoryId: record.repository.id,
    repositoryName: record.repository.fullName,
    baseBranch: record.baseBranch,
    branch: record.branch,
    model: record.model,
    reasoningEffort: record.reasoningEffort,
    status: record.status,
    archived: record.archived,
    owner: record.owner,
    parentSessionId: record.parentSessionId,
    origin: record.origin,
    sandboxStatus,
    costUsd: record.costUsd,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    title: row.title,
    repository: JSON.parse(row.repository_json) as SessionRepository,
    baseBranch: row.base_branch,
    branch: row.branch,
    model: row.model,
    reasoningEffort: (row.reasoning_effort as ReasoningEffort | null) ?? null,
    status: row.status as SessionStatus,
    archived: row.archived === 1,
    owner: JSON.parse(row.owner_json) as Author,
    parentSessionId: row.parent_session_id,
    origin: originOf(row.origin_json),
    costUsd: row.cost_usd,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A stored origin, or `api` for a row written before origins were recorded (or one that no longer parses). */
function originOf(json: string | null): SessionOrigin {
  if (json === null) return { kind: "api" };
  const parsed = SessionOrigin.safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : { kind: "api" };
}
