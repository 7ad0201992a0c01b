import { LookoutError } from "@lookout/protocol";
import { log } from "../log";
import type { ImageGateway } from "./gateway";
import { RepositoryImageStore } from "./store";

/**
 * How long after an image is superseded its snapshot is deleted, and how long a failed deletion
 * waits for its retry. The wait covers a sandbox that read the image as the newest just before it
 * was superseded (it has started by then) and the warm pool's targets, pushed every minute.
 */
export const SNAPSHOT_DELETE_DELAY_MS = 10 * 60_000;
/** Deletions asked of the gateway per pass; the rest wait for the next. */
const DELETIONS_PER_PASS = 20;

/**
 * Deletes the snapshots of images superseded at least `SNAPSHOT_DELETE_DELAY_MS` ago through the
 * gateway, recording each one deleted. Only superseded images have a retired snapshot (the newest
 * `IMAGES_KEPT` ready ones keep theirs), and the gateway refuses one a sandbox is starting or
 * running from. A deletion that fails is logged and stays recorded, so a later pass retries it.
 * Returns when the schedule should wake for the deletions still waiting, or null when none wait.
 */
export async function deleteRetiredSnapshots(deps: { db: D1Database; gateway: ImageGateway }, now: number): Promise<number | null> {
  const store = new RepositoryImageStore(deps.db);
  for (const retired of await store.retiredSnapshots(now - SNAPSHOT_DELETE_DELAY_MS, DELETIONS_PER_PASS)) {
    try {
      await deps.gateway.deleteSnapshot(retired.snapshotId);
    } catch (error) {
      const message = error instanceof LookoutError ? `${error.code}: ${error.message}` : String(error);
      log.warn("superseded image's snapshot not deleted; retried on a later pass", { ...retired, error: message });
      continue;
    }
    await store.snapshotDeleted(retired.imageId, now);
    log.info("superseded image's snapshot deleted", { ...retired });
  }
  return (await store.hasRetiredSnapshots()) ? now + SNAPSHOT_DELETE_DELAY_MS : null;
}
