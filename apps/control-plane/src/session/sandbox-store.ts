import type { SandboxStatus } from "@lookout/protocol";
import { one, type Sql } from "./sql";

export interface SandboxRecord {
  sandboxId: string;
  provider: string | null;
  providerId: string | null;
  status: SandboxStatus;
  tokenHash: string;
  lastHeartbeat: number | null;
  lastBseq: number;
  snapshotId: string | null;
  spawnFailures: number;
  lastError: string | null;
  /** A snapshot of this sandbox stops it, so it is snapshotted only when it is being stopped anyway. */
  snapshotStopsSandbox: boolean;
  createdAt: number;
  updatedAt: number;
}

interface SandboxRow extends Record<string, string | number | null> {
  sandbox_id: string;
  provider: string | null;
  provider_id: string | null;
  status: string;
  token_hash: string;
  last_heartbeat: number | null;
  last_bseq: number;
  snapshot_id: string | null;
  spawn_failures: number;
  last_error: string | null;
  snapshot_stops_sandbox: number;
  created_at: number;
  updated_at: number;
}

/**
 * The session's current sandbox (one row). Replacing the sandbox keeps the last snapshot id and the
 * failure count, so a fresh sandbox restores the latest work and the circuit breaker sees history.
 */
export class SandboxStore {
  constructor(private readonly sql: Sql) {}

  get(): SandboxRecord | null {
    const row = one(this.sql.exec<SandboxRow>(`SELECT * FROM sandbox WHERE slot = 1`));
    return row ? toRecord(row) : null;
  }

  status(): SandboxStatus {
    return this.get()?.status ?? "none";
  }

  /** Starts tracking a new sandbox, superseding the previous one. */
  replace(sandboxId: string, tokenHash: string, now: number): SandboxRecord {
    const previous = this.get();
    this.sql.exec(
      `INSERT INTO sandbox (slot, sandbox_id, status, token_hash, last_bseq, snapshot_id, spawn_failures, created_at, updated_at)
       VALUES (1, ?, 'spawning', ?, 0, ?, ?, ?, ?)
       ON CONFLICT(slot) DO UPDATE SET sandbox_id = excluded.sandbox_id, provider = NULL, provider_id = NULL,
         status = 'spawning', token_hash = excluded.token_hash, last_heartbeat = NULL, last_bseq = 0,
         last_error = NULL, snapshot_stops_sandbox = 0, updated_at = excluded.updated_at`,
      sandboxId,
      tokenHash,
      previous?.snapshotId ?? null,
      previous?.spawnFailures ?? 0,
      now,
      now,
    );
    const record = this.get();
    if (!record) throw new Error("sandbox row missing right after insert");
    return record;
  }

  update(
    patch: Partial<
      Pick<
        SandboxRecord,
        | "provider"
        | "providerId"
        | "status"
        | "lastHeartbeat"
        | "lastBseq"
        | "snapshotId"
        | "spawnFailures"
        | "lastError"
        | "snapshotStopsSandbox"
      >
    >,
    now: number,
  ): void {
    const current = this.get();
    if (!current) return;
    const next = { ...current, ...patch };
    this.sql.exec(
      `UPDATE sandbox SET provider = ?, provider_id = ?, status = ?, last_heartbeat = ?, last_bseq = ?, snapshot_id = ?,
         spawn_failures = ?, last_error = ?, snapshot_stops_sandbox = ?, updated_at = ? WHERE slot = 1`,
      next.provider,
      next.providerId,
      next.status,
      next.lastHeartbeat,
      next.lastBseq,
      next.snapshotId,
      next.spawnFailures,
      next.lastError,
      next.snapshotStopsSandbox ? 1 : 0,
      now,
    );
  }
}

function toRecord(row: SandboxRow): SandboxRecord {
  return {
    sandboxId: row.sandbox_id,
    provider: row.provider,
    providerId: row.provider_id,
    status: row.status as SandboxStatus,
    tokenHash: row.token_hash,
    lastHeartbeat: row.last_heartbeat,
    lastBseq: row.last_bseq,
    snapshotId: row.snapshot_id,
    spawnFailures: row.spawn_failures,
    lastError: row.last_error,
    snapshotStopsSandbox: row.snapshot_stops_sandbox === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
