import { LookoutError } from "@lookout/protocol";
import { SandboxProviderError } from "@lookout/sandbox";
import type { RouteContext } from "../routes";

/**
 * The characters of every provider's snapshot ids (local and Vercel `snap_…`, Modal `im-…`,
 * Daytona `lookout-…`), at most 200 of them: a path segment, never a path.
 */
export const SNAPSHOT_ID_PATTERN = "[A-Za-z0-9_.-]{1,200}";

/**
 * Deletes a snapshot from the provider's storage (`provider.deleteSnapshot`). The gateway keeps no
 * list of the snapshots it took (a restart would lose it, and the control plane retries deletions
 * across restarts), so an id it does not know is the provider's to judge: one the provider no
 * longer has is deleted already. What the gateway does know it refuses: a snapshot a sandbox is
 * being started from, or one a sandbox still running was started from (`CONFLICT`, retried later).
 */
export async function deleteSnapshot(context: RouteContext, snapshotId: string): Promise<void> {
  const { provider, registry, logger } = context;
  if (!provider.capabilities.snapshots) {
    throw new LookoutError("UNSUPPORTED", `The ${provider.name} provider takes no snapshots, so it has none to delete.`);
  }
  if (registry.usesSnapshot(snapshotId)) {
    throw new LookoutError(
      "CONFLICT",
      "A sandbox is starting from this snapshot or still runs from it; delete it once that sandbox has stopped.",
    );
  }
  try {
    await provider.deleteSnapshot(snapshotId);
  } catch (error) {
    if (error instanceof SandboxProviderError && error.reason === "invalid_request") {
      throw new LookoutError("VALIDATION_FAILED", `The ${provider.name} provider refuses this snapshot id: ${error.message}`);
    }
    throw error;
  }
  logger.info("snapshot deleted", { snapshotId });
}
