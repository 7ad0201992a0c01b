import type { SessionOrigin } from "@lookout/protocol";
import { Link } from "react-router";
import { useAutomations } from "../api/automation-queries";
import { describeOrigin } from "../state/origin";

/**
 * Where a session came from: an icon and a label, linking back (to the automation, or out to the
 * pull request) when `linked`. Inside a row that is itself a link it stays text.
 */
export function OriginBadge({ origin, linked = true }: { origin: SessionOrigin | undefined; linked?: boolean }) {
  const automationName = useAutomationName(origin);
  const view = describeOrigin(origin, automationName);
  const content = (
    <>
      <span aria-hidden className="origin__icon">
        {view.icon}
      </span>
      <span className="truncate">{view.label}</span>
    </>
  );
  if (linked && view.to) {
    return (
      <Link to={view.to} className="origin" title={view.title} data-origin={origin?.kind ?? "api"}>
        {content}
      </Link>
    );
  }
  if (linked && view.href) {
    return (
      <a href={view.href} className="origin" title={view.title} target="_blank" rel="noreferrer" data-origin={origin?.kind ?? "api"}>
        {content}
      </a>
    );
  }
  return (
    <span className="origin" title={view.title} data-origin={origin?.kind ?? "api"}>
      {content}
    </span>
  );
}

/** A report back to the origin that failed after its last retry. */
export function ReportFailure({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <span className="badge badge--red origin__report" title={error}>
      Report failed
    </span>
  );
}

/** The automation's name from the (shared, cached) automations list; undefined until known. */
function useAutomationName(origin: SessionOrigin | undefined): string | undefined {
  const automations = useAutomations({ enabled: origin?.kind === "automation", watch: false });
  if (origin?.kind !== "automation") return undefined;
  return automations.data?.find((automation) => automation.id === origin.automationId)?.name;
}
