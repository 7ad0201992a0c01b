import { Deadlines } from "./deadlines";
import { EventLog } from "./event-log";
import { SessionHub } from "./hub";
import { LIFECYCLE, type LifecycleConfig } from "./lifecycle";
import type { SessionPorts } from "./ports";
import { PromptQueue } from "./prompt-queue";
import { PushApprovals } from "./push-approvals";
import { RetiredSnapshotStore } from "./retired-snapshots";
import { SandboxStore } from "./sandbox-store";
import { migrate } from "./schema";
import { SandboxSecrets } from "./secret-values";
import { ToolOutputRetention } from "./retention";
import { SessionStore } from "./session-store";

/** The session's stores over its SQLite database. */
export interface SessionStores {
  readonly session: SessionStore;
  readonly events: EventLog;
  readonly queue: PromptQueue;
  readonly sandbox: SandboxStore;
  readonly deadlines: Deadlines;
  readonly approvals: PushApprovals;
  /** Cuts the oldest tool outputs of a very long session (`retention.ts`). */
  readonly retention: ToolOutputRetention;
  /** Snapshots replaced by newer ones, until the provider has deleted them. */
  readonly retiredSnapshots: RetiredSnapshotStore;
}

/** What every session module shares: the host's ports, the timing policy, the stores and the hub. */
export interface SessionContext extends SessionStores {
  readonly ports: SessionPorts;
  readonly lifecycle: LifecycleConfig;
  readonly secrets: SandboxSecrets;
  readonly hub: SessionHub;
}

export function createContext(ports: SessionPorts): SessionContext {
  ports.sql.transaction(() => migrate(ports.sql));
  const stores: SessionStores = {
    session: new SessionStore(ports.sql),
    events: new EventLog(ports.sql),
    queue: new PromptQueue(ports.sql),
    sandbox: new SandboxStore(ports.sql),
    deadlines: new Deadlines(ports.sql),
    approvals: new PushApprovals(ports.sql),
    retention: new ToolOutputRetention(ports.sql),
    retiredSnapshots: new RetiredSnapshotStore(ports.sql),
  };
  return {
    ...stores,
    ports,
    lifecycle: ports.lifecycle ?? LIFECYCLE,
    secrets: new SandboxSecrets(
      (repositoryId) => ports.secretsFor(repositoryId),
      (work) => ports.defer(work),
    ),
    hub: new SessionHub(ports, stores),
  };
}
