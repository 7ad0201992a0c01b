import type { ReactNode } from "react";
import { errorMessage } from "../api/api-error";

export function Spinner({ label = "Loading" }: { label?: string }) {
  return <span className="spinner" role="progressbar" aria-label={label} />;
}

export function LoadingBlock({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="empty" aria-busy="true">
      <Spinner label={label} />
      <span>{label}</span>
    </div>
  );
}

export function EmptyState({ icon, title, children }: { icon?: string; title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      {icon && (
        <span className="empty__icon" aria-hidden>
          {icon}
        </span>
      )}
      <div className="empty__title">{title}</div>
      {children}
    </div>
  );
}

/** An error from the API, in its own words, with a way to try again. */
export function ErrorCallout({ error, title, onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  return (
    <div className="callout callout--error" role="alert">
      <span aria-hidden>⚠</span>
      <div className="callout__body">
        {title && <div className="callout__title">{title}</div>}
        <div>{errorMessage(error)}</div>
      </div>
      {onRetry && (
        <button type="button" className="btn btn--sm" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Skeleton({ width = "100%", height = 14 }: { width?: number | string; height?: number }) {
  return <span className="skeleton" style={{ display: "block", width, height }} aria-hidden />;
}
