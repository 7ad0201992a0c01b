import type { ClientMessage } from "@lookout/protocol";
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { useApiContext } from "../api/context";
import { useSessionDetail } from "../api/queries";
import type { SessionConnection } from "../api/session-connection";
import type { ConnectionState } from "../api/session-socket";
import { initialSessionView, sessionViewReducer, type SessionViewState } from "../state/session-view";
import { EMPTY_TIMELINE } from "../state/timeline";
import { cachedTimeline, rememberTimeline } from "../state/timeline-cache";

export interface SessionLive {
  view: SessionViewState;
  connection: ConnectionState;
  detail: ReturnType<typeof useSessionDetail>;
  /** Sends a frame on the socket when it is open; returns whether it went out. */
  send(message: ClientMessage): boolean;
  reconnectNow(): void;
}

/**
 * Everything live about one session: the REST detail for a fast first paint, then the socket's
 * replay and stream folded into one state by the pure reducer. The socket resumes after the last
 * applied sequence number, which also survives leaving and coming back to the page.
 */
export function useSessionLive(sessionId: string): SessionLive {
  const { connect } = useApiContext();
  const [view, dispatch] = useReducer(sessionViewReducer, sessionId, (id) => initialSessionView(cachedTimeline(id) ?? EMPTY_TIMELINE));
  const [connection, setConnection] = useState<ConnectionState>({ kind: "connecting", attempt: 1 });
  const detail = useSessionDetail(sessionId);
  const connectionRef = useRef<SessionConnection | null>(null);
  // Tracks what the reducer has applied, synchronously, for the next `subscribe`.
  const appliedSeq = useRef(view.timeline.lastSeq);
  const timelineRef = useRef(view.timeline);
  timelineRef.current = view.timeline;

  useEffect(() => {
    if (detail.data) dispatch({ type: "detail", detail: detail.data });
  }, [detail.data]);

  useEffect(() => {
    const connection = connect(sessionId, {
      afterSeq: () => appliedSeq.current,
      onFrame: (frame) => {
        if (frame.type === "events") appliedSeq.current = Math.max(appliedSeq.current, frame.highestSeq);
        dispatch({ type: "frame", frame });
      },
      onState: setConnection,
    });
    connectionRef.current = connection;
    connection.start();
    return () => {
      connection.stop();
      connectionRef.current = null;
      rememberTimeline(sessionId, timelineRef.current);
    };
  }, [connect, sessionId]);

  const send = useCallback((message: ClientMessage) => connectionRef.current?.send(message) ?? false, []);
  const reconnectNow = useCallback(() => connectionRef.current?.reconnectNow(), []);

  return { view, connection, detail, send, reconnectNow };
}

/** Typing pre-warms a sandbox; a burst of keystrokes sends `typing: true` once, then `false` after a pause. */
const TYPING_IDLE_MS = 3_000;

export function useTypingSignal(send: (message: ClientMessage) => boolean): { typed(): void; done(): void } {
  const typing = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const done = useCallback(() => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    if (typing.current) {
      typing.current = false;
      send({ type: "typing", typing: false });
    }
  }, [send]);

  const typed = useCallback(() => {
    if (!typing.current) typing.current = send({ type: "typing", typing: true });
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(done, TYPING_IDLE_MS);
  }, [send, done]);

  useEffect(() => done, [done]);
  return { typed, done };
}

/** Tells the session whether this tab is being looked at. */
export function usePresenceSignal(send: (message: ClientMessage) => boolean, connected: boolean): void {
  useEffect(() => {
    if (!connected) return;
    const report = () => {
      const active = document.visibilityState === "visible" && document.hasFocus();
      send({ type: "presence", status: active ? "active" : "idle" });
    };
    report();
    window.addEventListener("focus", report);
    window.addEventListener("blur", report);
    document.addEventListener("visibilitychange", report);
    return () => {
      window.removeEventListener("focus", report);
      window.removeEventListener("blur", report);
      document.removeEventListener("visibilitychange", report);
    };
  }, [send, connected]);
}
