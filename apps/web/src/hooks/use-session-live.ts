import type { ClientMessage } from "@lookout/protocol";
import { useCallback, useEffect, useReducer, useRef, useState, type Dispatch, type MutableRefObject } from "react";
import { useApiContext } from "../api/context";
import type { LookoutApi } from "../api/lookout-api";
import { useSessionDetail } from "../api/queries";
import type { SessionConnection } from "../api/session-connection";
import type { ConnectionState } from "../api/session-socket";
import { initialSessionView, sessionViewReducer, type SessionViewAction, type SessionViewState } from "../state/session-view";
import { EMPTY_TIMELINE } from "../state/timeline";
import { cachedTimeline, rememberTimeline } from "../state/timeline-cache";

export interface SessionLive {
  view: SessionViewState;
  connection: ConnectionState;
  detail: ReturnType<typeof useSessionDetail>;
  /** Sends a frame on the socket when it is open; returns whether it went out. */
  send: (message: ClientMessage) => boolean;
  reconnectNow: () => void;
}

/**
 * Everything live about one session: the REST detail for a fast first paint, then the socket's
 * replay and stream folded into one state by the pure reducer. The socket resumes after the last
 * applied sequence number, which also survives leaving and coming back to the page.
 */
export function useSessionLive(sessionId: string): SessionLive {
  const { connect, api } = useApiContext();
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

  useRestFallback(api, sessionId, connection, appliedSeq, dispatch, detail.refetch);

  const send = useCallback((message: ClientMessage) => connectionRef.current?.send(message) ?? false, []);
  const reconnectNow = useCallback(() => connectionRef.current?.reconnectNow(), []);

  return { view, connection, detail, send, reconnectNow };
}

/** How often the REST fallback reads new events while the socket is down. */
export const REST_FALLBACK_POLL_MS = 5_000;
/** Events per REST page while catching up. */
const REST_PAGE_SIZE = 500;

/**
 * While the socket is down (between reconnect attempts, or offline and back), read missed events
 * over REST so the timeline keeps moving. The reducer drops anything the socket also delivers.
 */
function useRestFallback(
  api: LookoutApi,
  sessionId: string,
  connection: ConnectionState,
  appliedSeq: MutableRefObject<number>,
  dispatch: Dispatch<SessionViewAction>,
  refetchDetail: () => unknown,
): void {
  const down = connection.kind === "waiting";
  useEffect(() => {
    if (!down) return;
    const abort = new AbortController();
    const poll = async () => {
      try {
        for (;;) {
          const page = await api.events(sessionId, appliedSeq.current, REST_PAGE_SIZE, abort.signal);
          if (page.highestSeq > appliedSeq.current) {
            appliedSeq.current = page.highestSeq;
            dispatch({
              type: "frame",
              frame: { type: "events", events: page.events, replay: true, highestSeq: page.highestSeq, skipped: page.skipped },
            });
          }
          if (page.highestSeq === 0 || page.nextAfter >= page.latestSeq) break;
        }
        refetchDetail();
      } catch {
        // The socket's own retries report the outage; this is best effort.
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), REST_FALLBACK_POLL_MS);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [api, sessionId, down, appliedSeq, dispatch, refetchDetail]);
}

/** Typing pre-warms a sandbox; a burst of keystrokes sends `typing: true` once, then `false` after a pause. */
const TYPING_IDLE_MS = 3_000;

export function useTypingSignal(send: (message: ClientMessage) => boolean): { typed: () => void; done: () => void } {
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
