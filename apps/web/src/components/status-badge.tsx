import { SessionStatus as SessionStatusSchema, type SandboxStatus, type SessionStatus } from "@lookout/protocol";

type Tone = "green" | "amber" | "red" | "blue" | "accent" | "gray";

const SESSION_STATUS: Record<SessionStatus, { label: string; tone: Tone; live: boolean }> = {
  created: { label: "Created", tone: "gray", live: false },
  starting: { label: "Starting", tone: "amber", live: true },
  running: { label: "Running", tone: "blue", live: true },
  idle: { label: "Idle", tone: "green", live: false },
  stopped: { label: "Stopped", tone: "gray", live: false },
  failed: { label: "Failed", tone: "red", live: false },
};

const SANDBOX_STATUS: Record<SandboxStatus, { label: string; tone: Tone; live: boolean }> = {
  none: { label: "No sandbox", tone: "gray", live: false },
  spawning: { label: "Starting sandbox", tone: "amber", live: true },
  connecting: { label: "Connecting sandbox", tone: "amber", live: true },
  ready: { label: "Sandbox ready", tone: "green", live: false },
  running: { label: "Sandbox running", tone: "blue", live: true },
  idle: { label: "Sandbox idle", tone: "green", live: false },
  snapshotting: { label: "Saving snapshot", tone: "amber", live: true },
  stale: { label: "Sandbox unresponsive", tone: "amber", live: false },
  stopped: { label: "Sandbox stopped", tone: "gray", live: false },
  failed: { label: "Sandbox failed", tone: "red", live: false },
};

export const SESSION_STATUSES: readonly SessionStatus[] = SessionStatusSchema.options;

export function sessionStatusLabel(status: SessionStatus): string {
  return SESSION_STATUS[status].label;
}

export function sandboxStatusLabel(status: SandboxStatus): string {
  return SANDBOX_STATUS[status].label;
}

export function StatusBadge({ status }: { status: SessionStatus }) {
  const { label, tone, live } = SESSION_STATUS[status];
  return (
    <span className={`badge${tone === "gray" ? "" : ` badge--${tone}`}`} data-status={status}>
      <span className={`dot${live ? " dot--pulse" : ""}`} aria-hidden />
      {label}
    </span>
  );
}

export function SandboxBadge({ status }: { status: SandboxStatus }) {
  const { label, tone, live } = SANDBOX_STATUS[status];
  return (
    <span className={`badge badge--outline${tone === "gray" ? "" : ` badge--${tone}`}`}>
      <span className={`dot${live ? " dot--pulse" : ""}`} aria-hidden />
      {label}
    </span>
  );
}
