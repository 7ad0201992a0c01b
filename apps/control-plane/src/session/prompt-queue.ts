import { type Author, LookoutError, type ModelRef, type PromptStatus, type QueuedPrompt, type ReasoningEffort } from "@lookout/protocol";
import { one, type Sql } from "./sql";

/** How many prompts may wait behind the running one. */
const MAX_PENDING_PROMPTS = 20;

export interface NewPrompt {
  id: string;
  requestId: string | null;
  author: Author;
  text: string;
  model: ModelRef;
  reasoningEffort: ReasoningEffort | null;
}

interface PromptRow extends Record<string, string | number | null> {
  id: string;
  request_id: string | null;
  fingerprint: string;
  author_json: string;
  text: string;
  model: string;
  reasoning_effort: string | null;
  status: string;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export type EnqueueResult = { prompt: QueuedPrompt; duplicate: boolean };

/**
 * The session's prompt queue: FIFO, bounded, idempotent by the client's request id. A retry with
 * the same request id and the same content returns the original prompt; the same id with different
 * content is a conflict. At most one prompt runs at a time (a partial unique index enforces it).
 */
export class PromptQueue {
  constructor(private readonly sql: Sql) {}

  enqueue(prompt: NewPrompt, now: number): EnqueueResult {
    const fingerprint = fingerprintOf(prompt);
    if (prompt.requestId !== null) {
      const existing = one(this.sql.exec<PromptRow>(`SELECT * FROM prompts WHERE request_id = ?`, prompt.requestId));
      if (existing) {
        if (existing.fingerprint !== fingerprint) throw new LookoutError("PROMPT_REQUEST_CONFLICT");
        return { prompt: toPrompt(existing), duplicate: true };
      }
    }
    if (this.pendingCount() >= MAX_PENDING_PROMPTS) {
      throw new LookoutError("PROMPT_QUEUE_FULL", `At most ${MAX_PENDING_PROMPTS} prompts can wait; cancel one or wait for the agent.`);
    }
    this.sql.exec(
      `INSERT INTO prompts (id, request_id, fingerprint, author_json, text, model, reasoning_effort, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
      prompt.id,
      prompt.requestId,
      fingerprint,
      JSON.stringify(prompt.author),
      prompt.text,
      prompt.model,
      prompt.reasoningEffort,
      now,
    );
    return { prompt: this.require(prompt.id), duplicate: false };
  }

  get(id: string): QueuedPrompt | null {
    const row = one(this.sql.exec<PromptRow>(`SELECT * FROM prompts WHERE id = ?`, id));
    return row ? toPrompt(row) : null;
  }

  require(id: string): QueuedPrompt {
    const prompt = this.get(id);
    if (!prompt) throw new LookoutError("PROMPT_NOT_FOUND");
    return prompt;
  }

  pendingCount(): number {
    return one(this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM prompts WHERE status = 'pending'`))?.n ?? 0;
  }

  /** The running prompt and the pending ones in the order they will run. */
  active(): QueuedPrompt[] {
    return this.sql
      .exec<PromptRow>(`SELECT * FROM prompts WHERE status IN ('running', 'pending') ORDER BY status = 'pending', created_at, rowid`)
      .map(toPrompt);
  }

  running(): QueuedPrompt | null {
    const row = one(this.sql.exec<PromptRow>(`SELECT * FROM prompts WHERE status = 'running'`));
    return row ? toPrompt(row) : null;
  }

  nextPending(): QueuedPrompt | null {
    const row = one(this.sql.exec<PromptRow>(`SELECT * FROM prompts WHERE status = 'pending' ORDER BY created_at, rowid LIMIT 1`));
    return row ? toPrompt(row) : null;
  }

  cancel(id: string, now: number): QueuedPrompt {
    const prompt = this.require(id);
    if (prompt.status !== "pending") throw new LookoutError("PROMPT_NOT_CANCELLABLE");
    this.sql.exec(`UPDATE prompts SET status = 'cancelled', finished_at = ? WHERE id = ?`, now, id);
    return this.require(id);
  }

  start(id: string, now: number): QueuedPrompt {
    this.sql.exec(`UPDATE prompts SET status = 'running', started_at = ? WHERE id = ? AND status = 'pending'`, now, id);
    return this.require(id);
  }

  /** Ends a running prompt; returns null if it had already ended, so late duplicates are harmless. */
  finish(
    id: string,
    status: Extract<PromptStatus, "completed" | "failed" | "stopped">,
    error: string | null,
    now: number,
  ): QueuedPrompt | null {
    const prompt = this.get(id);
    if (!prompt || prompt.status !== "running") return null;
    this.sql.exec(`UPDATE prompts SET status = ?, error = ?, finished_at = ? WHERE id = ?`, status, error, now, id);
    return this.require(id);
  }
}

function fingerprintOf(prompt: NewPrompt): string {
  return JSON.stringify([prompt.text, prompt.model, prompt.reasoningEffort, prompt.author.userId]);
}

function toPrompt(row: PromptRow): QueuedPrompt {
  return {
    promptId: row.id,
    requestId: row.request_id,
    author: JSON.parse(row.author_json) as Author,
    text: row.text,
    model: row.model,
    reasoningEffort: (row.reasoning_effort as ReasoningEffort | null) ?? null,
    status: row.status as PromptStatus,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
