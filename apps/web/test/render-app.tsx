import { QueryClient } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import { MemoryRouter, useLocation } from "react-router";
import type { ClientMessage } from "@lookout/protocol";
import { HttpClient } from "../src/api/http";
import { LookoutApi } from "../src/api/lookout-api";
import type { ConnectionCallbacks, ConnectionFactory } from "../src/api/session-connection";
import type { ParsedServerFrame } from "../src/api/server-frame";
import type { ConnectionState } from "../src/api/session-socket";
import { App } from "../src/app";
import { fakeFetch, fakeState, type FakeApiState } from "./fake-api";

/** A connection the test drives: push frames and states in, read what the page sent. */
export class FakeConnection {
  readonly sent: ClientMessage[] = [];
  started = false;
  stopped = false;
  constructor(
    readonly sessionId: string,
    readonly callbacks: ConnectionCallbacks,
  ) {}
  start() {
    this.started = true;
  }
  stop() {
    this.stopped = true;
  }
  reconnectNow() {}
  send(message: ClientMessage): boolean {
    this.sent.push(message);
    return true;
  }
  frame(frame: ParsedServerFrame) {
    this.callbacks.onFrame(frame);
  }
  state(state: ConnectionState) {
    this.callbacks.onState(state);
  }
}

let currentLocation = "";
let currentState: unknown = null;
function LocationProbe() {
  const location = useLocation();
  currentLocation = location.pathname + location.search;
  currentState = location.state;
  return null;
}

export function renderApp(path: string, state: FakeApiState = fakeState()) {
  const connections: FakeConnection[] = [];
  const connect: ConnectionFactory = (sessionId, callbacks) => {
    const connection = new FakeConnection(sessionId, callbacks);
    connections.push(connection);
    return connection;
  };
  const api = new LookoutApi(new HttpClient({ fetch: fakeFetch(state) }));
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, refetchInterval: false } } });
  const result = render(
    <App
      services={{ api, connect }}
      queryClient={queryClient}
      router={(children) => (
        <MemoryRouter initialEntries={[path]}>
          <LocationProbe />
          {children}
        </MemoryRouter>
      )}
    />,
  );
  return { ...result, state, connections, queryClient, location: () => currentLocation, locationState: () => currentState };
}
