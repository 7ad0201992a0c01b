import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";

/**
 * The gateway's only state: which provider sandbox backs each control-plane sandbox id, and the
 * sha256 of each live sandbox's token (so the model proxy can authenticate sandboxes without ever
 * holding their tokens). Persisted as one JSON file so a gateway restart keeps remote sandboxes
 * reachable.
 */
const SandboxRecord = z.object({
  sandboxId: z.string(),
  provider: z.string(),
  providerId: z.string(),
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAtMs: z.number().int(),
  /** The snapshot the sandbox was created from, when it was restored rather than started fresh. */
  restoredFrom: z.string().optional(),
  /** Set when the gateway stopped the sandbox without terminating it (a snapshot that stops it). */
  stoppedAtMs: z.number().int().optional(),
});
export type SandboxRecord = z.infer<typeof SandboxRecord>;

const RegistryFile = z.object({ version: z.literal(1), sandboxes: z.array(SandboxRecord) });

export class SandboxRegistry {
  private readonly records = new Map<string, SandboxRecord>();
  private readonly byTokenHash = new Map<string, SandboxRecord>();
  /** Snapshots sandboxes are being started from, with how many starts each (a restart ends those starts, so not persisted). */
  private readonly starting = new Map<string, number>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static load(path: string): SandboxRegistry {
    const registry = new SandboxRegistry(path);
    if (existsSync(path)) {
      const parsed = RegistryFile.safeParse(JSON.parse(readFileSync(path, "utf8")));
      if (!parsed.success) throw new Error(`The sandbox registry ${path} is corrupt; move it aside to start afresh.`);
      for (const record of parsed.data.sandboxes) registry.index(record);
    }
    return registry;
  }

  get(sandboxId: string): SandboxRecord | undefined {
    return this.records.get(sandboxId);
  }

  /** The sandbox whose token hashes to `tokenHash`, if any (it may have stopped: see `SandboxLiveness`). */
  byToken(tokenHash: string): SandboxRecord | undefined {
    return this.byTokenHash.get(tokenHash);
  }

  /** Every sandbox the gateway has not stopped or terminated (some may have ended on their own). */
  unstopped(): SandboxRecord[] {
    return [...this.records.values()].filter((record) => record.stoppedAtMs === undefined);
  }

  /** Marks a snapshot as one a sandbox is being started from, until the returned function is called. */
  startingFrom(snapshotId: string): () => void {
    this.starting.set(snapshotId, (this.starting.get(snapshotId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.starting.get(snapshotId) ?? 1) - 1;
      if (left > 0) this.starting.set(snapshotId, left);
      else this.starting.delete(snapshotId);
    };
  }

  /** Whether a sandbox is being started from the snapshot, or one the gateway has not stopped was started from it. */
  usesSnapshot(snapshotId: string): boolean {
    return this.starting.has(snapshotId) || this.unstopped().some((record) => record.restoredFrom === snapshotId);
  }

  async put(record: SandboxRecord): Promise<void> {
    const previous = this.records.get(record.sandboxId);
    if (previous) this.byTokenHash.delete(previous.tokenHash);
    this.index(record);
    await this.persist();
  }

  /**
   * Records that the gateway stopped a sandbox it keeps the record of (a snapshot that stops it):
   * its token opens nothing from now on, without waiting for the provider's status to say so.
   */
  async markStopped(sandboxId: string, atMs: number = Date.now()): Promise<void> {
    const record = this.records.get(sandboxId);
    if (!record || record.stoppedAtMs !== undefined) return;
    this.index({ ...record, stoppedAtMs: atMs });
    await this.persist();
  }

  async delete(sandboxId: string): Promise<void> {
    const record = this.records.get(sandboxId);
    if (!record) return;
    this.records.delete(sandboxId);
    this.byTokenHash.delete(record.tokenHash);
    await this.persist();
  }

  private index(record: SandboxRecord): void {
    this.records.set(record.sandboxId, record);
    this.byTokenHash.set(record.tokenHash, record);
  }

  /** Writes are serialised and atomic (temp file + rename), so a crash never leaves half a file. */
  private persist(): Promise<void> {
    const snapshot = JSON.stringify({ version: 1, sandboxes: [...this.records.values()] }, null, 2);
    const write = this.writes.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, snapshot, { mode: 0o600 });
      await rename(temp, this.path);
    });
    // One failed write must not poison every later one.
    this.writes = write.catch(() => undefined);
    return write;
  }
}
