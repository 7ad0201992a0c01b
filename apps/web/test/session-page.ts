import { act, waitFor } from "@testing-library/react";
import { expect } from "vitest";
import type { SessionEvent } from "@lookout/protocol";
import { ACME_WEB, summary } from "./fixtures";
import { type FakeApiState, fakeState, ME, toState } from "./fake-api";
import type { FakeConnection, renderApp } from "./render-app";

/** Fixtures for the session page: one running session on a GitHub repository, and its socket. */

/** The signed-in user's running session `s_1` on `ACME_WEB`, its sandbox running. */
export function runningSession(): FakeApiState {
  const base = summary({ id: "s_1", status: "running", owner: ME });
  const state = fakeState({ repositories: [ACME_WEB], sessions: [base] });
  state.sessionStates.set("s_1", toState(base, { sandboxStatus: "running" }));
  return state;
}

/** The page's session socket, once it has opened one. */
export async function connected(app: ReturnType<typeof renderApp>): Promise<FakeConnection> {
  await waitFor(() => expect(app.connections.length).toBeGreaterThan(0));
  return app.connections.at(-1)!;
}

/** Replays `events` as the server does on subscribe, then goes live. */
export function replay(connection: FakeConnection, events: SessionEvent[]): void {
  act(() => {
    connection.state({ kind: "replaying" });
    connection.frame({ type: "events", events, replay: true, highestSeq: events.at(-1)?.seq ?? 0, skipped: 0 });
    connection.frame({ type: "subscribed", latestSeq: events.at(-1)?.seq ?? 0 });
    connection.state({ kind: "live" });
  });
}
