import type { SandboxSyncEvent } from "@lookout/protocol";
import { clockTime, duration, plural } from "../../lib/format";

/** The dot colour of each phase, from the sandbox status lines' palette. */
const PHASE_CLASS: Record<SandboxSyncEvent["phase"], string> = { started: "spawning", finished: "ready", failed: "failed" };

/**
 * A sandbox from a repository image or snapshot catching up with the remote while the agent reads:
 * one line that evolves from "syncing" to what the sync brought in, or why it failed.
 */
export function SyncLine({ sync, at }: { sync: SandboxSyncEvent; at: number }) {
  const held = sync.heldWrites ? `, ${plural(sync.heldWrites, "write")} waited for it` : "";
  const took = sync.durationMs !== undefined ? ` in ${duration(sync.durationMs)}` : "";
  let text: string;
  switch (sync.phase) {
    case "started":
      text = `Syncing with ${sync.baseBranch} — the agent reads meanwhile; writes wait`;
      break;
    case "finished":
      text = sync.behind
        ? `Synced with ${sync.baseBranch}: ${plural(sync.behind, "new commit")}${took}${held}`
        : `Already up to date with ${sync.baseBranch}${took}${held}`;
      break;
    case "failed":
      text = `Sync with ${sync.baseBranch} failed${took}${held}; the agent works on the image's commit`;
      break;
  }
  return (
    <div className={`event-line event-line--sandbox event-line--${PHASE_CLASS[sync.phase]}`} data-sync-phase={sync.phase}>
      <span className="dot" aria-hidden />
      <span className="event-line__text">
        {text}
        {sync.error && <span className="faint"> · {sync.error}</span>}
      </span>
      <time className="faint">{clockTime(at)}</time>
    </div>
  );
}
