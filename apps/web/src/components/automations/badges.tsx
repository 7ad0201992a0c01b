import type { Automation, RunStatus } from "@lookout/protocol";
import { automationStatus, runStatusView, type Tone } from "../../state/automations";

function toneClass(tone: Tone): string {
  return tone === "gray" ? "badge" : `badge badge--${tone}`;
}

/** Active, or Paused with the reason (who paused it, or the failures that did) as its tooltip. */
export function AutomationStatusBadge({ automation }: { automation: Automation }) {
  const status = automationStatus(automation);
  return (
    <span className={toneClass(status.tone)} title={status.reason ?? undefined} data-automation-status={status.label.toLowerCase()}>
      <span className="dot" aria-hidden />
      {status.label}
    </span>
  );
}

export function RunStatusBadge({ status }: { status: RunStatus }) {
  const view = runStatusView(status);
  return (
    <span className={toneClass(view.tone)} data-run-status={status}>
      <span className={`dot${view.live ? " dot--pulse" : ""}`} aria-hidden />
      {view.label}
    </span>
  );
}
