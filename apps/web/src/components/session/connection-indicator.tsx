import { useEffect, useState } from "react";
import type { ConnectionState } from "../../api/session-socket";

/** A small pill that says whether the timeline is live, and what happens next when it is not. */
export function ConnectionIndicator({ state, onRetry }: { state: ConnectionState; onRetry: () => void }) {
  const seconds = useCountdown(state.kind === "waiting" ? state.retryAt : null);
  switch (state.kind) {
    case "live":
      return (
        <span className="conn conn--live" role="status" title="Receiving updates as they happen">
          <span className="dot" aria-hidden /> Live
        </span>
      );
    case "connecting":
      return (
        <span className="conn" role="status">
          <span className="spinner" aria-hidden /> Connecting…
        </span>
      );
    case "replaying":
      return (
        <span className="conn" role="status">
          <span className="spinner" aria-hidden /> Catching up…
        </span>
      );
    case "waiting":
      return (
        <span className="conn conn--warn" role="status" title={state.reason}>
          <span className="dot" aria-hidden /> Reconnecting{seconds > 0 ? ` in ${seconds}s` : "…"}
          <button type="button" className="conn__retry" onClick={onRetry}>
            Retry now
          </button>
        </span>
      );
    case "offline":
      return (
        <span className="conn conn--warn" role="status">
          <span className="dot" aria-hidden /> Offline — waiting for the network
        </span>
      );
    case "failed":
      return (
        <span className="conn conn--error" role="status" title={state.error.message}>
          <span className="dot" aria-hidden /> Disconnected
        </span>
      );
    case "closed":
      return null;
  }
}

function useCountdown(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [until]);
  return until === null ? 0 : Math.max(0, Math.ceil((until - now) / 1000));
}
