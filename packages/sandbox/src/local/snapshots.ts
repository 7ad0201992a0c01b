import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { providerError } from "../errors";
import { runTar } from "./tar";

const PROVIDER = "local";
/**
 * What this provider mints (`snap_` and base64url): a snapshot id is a file name in the snapshots
 * directory, so nothing else is ever joined to a path (no `/`, no `..`).
 */
const SNAPSHOT_ID_PATTERN = /^snap_[A-Za-z0-9_-]{16,64}$/;

/**
 * The local provider's snapshots: one gzipped tar of a sandbox's `workspace/` each, at
 * `<dataDir>/snapshots/<snapshotId>.tar.gz`, written under a `.partial` name and renamed once whole.
 */
export class LocalSnapshots {
  constructor(private readonly dir: string) {}

  /** Archives `sandboxDir`'s `workspace/` and answers the new snapshot's id. */
  async take(sandboxDir: string): Promise<string> {
    const snapshotId = `snap_${randomBytes(18).toString("base64url")}`;
    const target = this.archive(snapshotId);
    const partial = `${target}.partial`;
    try {
      await runTar(["-C", sandboxDir, "-czf", partial, "workspace"], { toleratesChangedFiles: true });
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return snapshotId;
  }

  /** Unpacks a snapshot's `workspace/` into `sandboxDir`. */
  async unpack(snapshotId: string, sandboxDir: string): Promise<void> {
    const archive = this.archive(snapshotId);
    if (!existsSync(archive)) {
      throw providerError(PROVIDER, `No snapshot ${snapshotId}.`, { kind: "permanent", reason: "not_found" });
    }
    await runTar(["-C", sandboxDir, "-xzf", archive, "workspace"], { toleratesChangedFiles: false });
  }

  /**
   * Removes a snapshot's archive; one that is not there is already deleted. A sandbox unpacked
   * from it keeps its own copy of the work directory.
   */
  async delete(snapshotId: string): Promise<void> {
    await rm(this.archive(snapshotId), { force: true });
  }

  /** The archive's path; refuses any id this provider would not have minted. */
  private archive(snapshotId: string): string {
    if (!SNAPSHOT_ID_PATTERN.test(snapshotId)) {
      throw providerError(PROVIDER, "The snapshot id is malformed.", { kind: "permanent", reason: "invalid_request" });
    }
    return join(this.dir, `${snapshotId}.tar.gz`);
  }
}
