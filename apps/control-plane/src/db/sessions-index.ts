import {
  type Author,
  LookoutError,
  type ListSessionsQuery,
  SessionOrigin,
  type SessionStatus,
  type SessionSummary,
} from "@lookout/protocol";
import { fromBase64Url, toBase64Url } from "@lookout/protocol";
import { z } from "zod";
import type { SessionRecord } from "../session/session-store";

interface SessionIndexRow extends Record<string, unknown> {
  id: string;
  title: string;
  repository_id: string;
  repository_name: string | null;
  owner_id: string;
  owner_name: string;
  owner_email: string | null;
  owner_avatar_url: string | null;
  model: string;
  status: string;
  archived: number;
  cost_usd: number;
  created_at: number;
  updated_at: number;
  last_activity_at: number;
  origin: string;
  report_error: string | null;
}

const Cursor = z.object({ at: z.number(), id: z.string() });

/**
 * The D1 sessions index: one row per session, written through by the session's Durable Object on
 * every change that listing shows, so listing and search never wake the sessions themselves.
 */
export class SessionIndexStore {
  constructor(private readonly db: D1Database) {}

  async write(record: SessionRecord, lastActivityAt: number): Promise<void> {
    await this.db
      .prepare(
        `INSERT INTO sessions (id, title, repository_id, owner_id, owner_name, model, status, archived, parent_session_id, cost_usd,
           created_at, updated_at, last_activity_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT(id) DO UPDATE SET title = excluded.title, model = excluded.model, status = excluded.status,
           archived = excluded.archived, cost_usd = excluded.cost_usd, updated_at = excluded.updated_at,
           last_activity_at = MAX(sessions.last_activity_at, excluded.last_activity_at)`,
      )
      .bind(
        record.id,
        record.title,
        record.repository.id,
        record.owner.userId,
        record.owner.name,
        record.model,
        record.status,
        record.archived ? 1 : 0,
        record.parentSessionId,
        record.costUsd,
        record.createdAt,
        record.updatedAt,
        lastActivityAt,
      )
      .run();
  }

  /**
   * Records where a session came from. Written by the Worker right after the object created the
   * row; the object's own writes leave the column alone.
   */
  async setOrigin(id: string, origin: SessionOrigin): Promise<void> {
    await this.db.prepare("UPDATE sessions SET origin = ?2 WHERE id = ?1").bind(id, JSON.stringify(origin)).run();
  }

  async get(id: string): Promise<SessionSummary | null> {
    const row = await this.db.prepare(`${SELECT} WHERE s.id = ?1`).bind(id).first<SessionIndexRow>();
    return row ? toSummary(row) : null;
  }

  /** Newest activity first, paged by an opaque cursor over (last_activity_at, id). */
  async list(query: ListSessionsQuery): Promise<{ sessions: SessionSummary[]; nextCursor: string | null }> {
    const where: string[] = ["s.archived = ?"];
    const params: (string | number)[] = [query.archived ? 1 : 0];
    if (query.status) {
      where.push("s.status = ?");
      params.push(query.status);
    }
    if (query.repositoryId) {
      where.push("s.repository_id = ?");
      params.push(query.repositoryId);
    }
    if (query.ownerId) {
      where.push("s.owner_id = ?");
      params.push(query.ownerId);
    }
    if (query.q) {
      where.push("(s.title LIKE ? ESCAPE '\\' OR r.name LIKE ? ESCAPE '\\')");
      const pattern = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      params.push(pattern, pattern);
    }
    if (query.cursor) {
      const cursor = decodeCursor(query.cursor);
      where.push("(s.last_activity_at < ? OR (s.last_activity_at = ? AND s.id < ?))");
      params.push(cursor.at, cursor.at, cursor.id);
    }
    const rows = await this.db
      .prepare(`${SELECT} WHERE ${where.join(" AND ")} ORDER BY s.last_activity_at DESC, s.id DESC LIMIT ?`)
      .bind(...params, query.limit + 1)
      .all<SessionIndexRow>();
    const page = rows.results.slice(0, query.limit);
    const last = page[page.length - 1];
    const nextCursor = rows.results.length > query.limit && last ? encodeCursor({ at: last.last_activity_at, id: last.id }) : null;
    return { sessions: page.map(toSummary), nextCursor };
  }
}

const SELECT = `SELECT s.*, COALESCE(r.owner || '/' || r.name, r.name) AS repository_name, u.email AS owner_email, u.avatar_url AS owner_avatar_url
  FROM sessions s LEFT JOIN repositories r ON r.id = s.repository_id LEFT JOIN users u ON u.id = s.owner_id`;

function encodeCursor(cursor: z.infer<typeof Cursor>): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(cursor)));
}

function decodeCursor(text: string): z.infer<typeof Cursor> {
  try {
    return Cursor.parse(JSON.parse(new TextDecoder().decode(fromBase64Url(text))));
  } catch {
    throw new LookoutError("VALIDATION_FAILED", "The cursor is not one this API returned; start again without it.");
  }
}

function toSummary(row: SessionIndexRow): SessionSummary {
  const owner: Author = {
    userId: row.owner_id,
    name: row.owner_name,
    ...(row.owner_email ? { email: row.owner_email } : {}),
    ...(row.owner_avatar_url ? { avatarUrl: row.owner_avatar_url } : {}),
  };
  return {
    id: row.id,
    title: row.title,
    repositoryId: row.repository_id,
    repositoryName: row.repository_name ?? row.repository_id,
    status: row.status as SessionStatus,
    archived: row.archived === 1,
    owner,
    model: row.model,
    costUsd: row.cost_usd,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastActivityAt: row.last_activity_at,
    origin: originOf(row.origin),
    reportError: row.report_error,
  };
}

/** A stored origin; one that no longer parses (an origin kind since removed) reads as `api`. */
function originOf(json: string): SessionOrigin {
  try {
    return SessionOrigin.parse(JSON.parse(json));
  } catch {
    return { kind: "api" };
  }
}
