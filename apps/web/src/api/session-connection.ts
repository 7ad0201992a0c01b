import type { LookoutApi } from "./lookout-api";
import { SessionSocket, type SessionSocketOptions } from "./session-socket";

export type ConnectionCallbacks = Pick<SessionSocketOptions, "afterSeq" | "onFrame" | "onState">;

/** What the session page needs from a live connection. */
export interface SessionConnection {
  start(): void;
  stop(): void;
  send: SessionSocket["send"];
  reconnectNow(): void;
}

export type ConnectionFactory = (sessionId: string, callbacks: ConnectionCallbacks) => SessionConnection;

/**
 * The real connection: a `SessionSocket` that mints its tokens through the REST API. A socket
 * closed because its sign-in ended signs the page out, like a 401 from any request.
 */
export function socketConnectionFactory(api: LookoutApi): ConnectionFactory {
  return (sessionId, callbacks) =>
    new SessionSocket({
      ...callbacks,
      mintToken: (signal) => api.wsToken(sessionId, signal),
      onSignedOut: (error) => api.http.announceUnauthenticated(error),
    });
}
