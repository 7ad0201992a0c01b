import type { ParticipantRole, PresenceEntry, QueuedPrompt, SessionDetail, SessionState } from "@lookout/protocol";
import type { ParsedServerFrame } from "../api/server-frame";
import { applyEvents, EMPTY_TIMELINE, type TimelineState } from "./timeline";

/** Everything the session page shows, fed by the REST detail and the session socket. */
export interface SessionViewState {
  session: SessionState | null;
  queue: QueuedPrompt[];
  presence: PresenceEntry[];
  timeline: TimelineState;
  /** The newest sequence number the server has told us about. */
  latestSeq: number;
  /** True once a replay has completed at least once (the timeline is whole). */
  caughtUp: boolean;
  /** The signed-in user's connection, from `hello`. */
  connectionId: string | null;
  /**
   * What the signed-in user may do here: viewers watch, members and owners also steer. From the
   * socket's `hello` once it has spoken, else the REST detail (null until either says).
   */
  role: ParticipantRole | null;
}

export type SessionViewAction = { type: "detail"; detail: SessionDetail } | { type: "frame"; frame: ParsedServerFrame };

export function initialSessionView(timeline: TimelineState = EMPTY_TIMELINE): SessionViewState {
  return {
    session: null,
    queue: [],
    presence: [],
    timeline,
    latestSeq: timeline.lastSeq,
    caughtUp: false,
    connectionId: null,
    role: null,
  };
}

export function sessionViewReducer(state: SessionViewState, action: SessionViewAction): SessionViewState {
  if (action.type === "detail") {
    const { detail } = action;
    return {
      ...state,
      session: newer(state.session, detail.session),
      // The socket's queue and presence are at least as fresh once it has spoken.
      queue: state.connectionId ? state.queue : detail.queue,
      presence: state.connectionId ? state.presence : detail.presence,
      role: state.connectionId ? state.role : detail.role,
      latestSeq: Math.max(state.latestSeq, detail.latestSeq),
    };
  }
  const { frame } = action;
  switch (frame.type) {
    case "hello":
      return {
        ...state,
        session: frame.session,
        connectionId: frame.connectionId,
        role: frame.role,
        latestSeq: Math.max(state.latestSeq, frame.latestSeq),
      };
    case "events": {
      const timeline = applyEvents(state.timeline, frame.events, frame.highestSeq);
      if (timeline === state.timeline) return state;
      return { ...state, timeline, latestSeq: Math.max(state.latestSeq, timeline.lastSeq) };
    }
    case "subscribed":
      return { ...state, caughtUp: true, latestSeq: Math.max(state.latestSeq, frame.latestSeq) };
    case "presence":
      return { ...state, presence: frame.entries };
    case "queue":
      return { ...state, queue: frame.prompts };
    case "session":
      return { ...state, session: frame.session };
    case "prompt.accepted":
    case "error":
    case "pong":
      return state;
  }
}

/** Keeps whichever copy of the session was written last (a slow REST answer must not undo a live update). */
function newer(current: SessionState | null, incoming: SessionState): SessionState {
  if (!current) return incoming;
  return incoming.updatedAt >= current.updatedAt ? incoming : current;
}

/**
 * The signed-in user's role now. Presence comes first: when the owner changes someone's role the
 * session says so in a presence update, while `hello` (and the REST detail) hold the role at connect.
 */
export function currentRole(state: SessionViewState, userId: string): ParticipantRole | null {
  return state.presence.find((entry) => entry.participant.userId === userId)?.role ?? state.role;
}
