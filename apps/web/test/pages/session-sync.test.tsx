import { act, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Repository, SessionEvent } from "@lookout/protocol";
import { GRACE, ev, queued, summary } from "../fixtures";
import { fakeState, ME, toState } from "../fake-api";
import { renderApp } from "../render-app";

const REPO: Repository = {
  id: "r_1",
  kind: "github",
  fullName: "acme/web",
  name: "web",
  owner: "acme",
  path: null,
  defaultBranch: "main",
  description: null,
  createdAt: 1,
  updatedAt: 1,
};

const FROM = "a".repeat(40);
const TO = "b".repeat(40);

function setup() {
  const base = summary({ id: "s_1", status: "running", owner: ME });
  const state = fakeState({ repositories: [REPO], sessions: [base] });
  state.sessionStates.set("s_1", toState(base, { sandboxStatus: "running" }));
  return state;
}

describe("the timeline's sync step", () => {
  it("shows a sandbox catching up with the base as one line that evolves from syncing to what it brought in", async () => {
    const app = renderApp("/sessions/s_1", setup());
    await waitFor(() => expect(app.connections.length).toBeGreaterThan(0));
    const connection = app.connections.at(-1)!;
    const started: SessionEvent[] = [
      ev(1, queued("p1", "Fix the login", GRACE)),
      ev(2, { type: "prompt.started", promptId: "p1" }),
      ev(3, { type: "sandbox.sync", syncId: "sync_1", phase: "started", baseBranch: "main" }),
    ];
    act(() => {
      connection.state({ kind: "replaying" });
      connection.frame({ type: "events", events: started, replay: true, highestSeq: 3, skipped: 0 });
      connection.frame({ type: "subscribed", latestSeq: 3 });
      connection.state({ kind: "live" });
    });
    expect(screen.getByText(/Syncing with main — the agent reads meanwhile; writes wait/)).toBeInTheDocument();

    const finished = ev(4, {
      type: "sandbox.sync",
      syncId: "sync_1",
      phase: "finished",
      baseBranch: "main",
      fromSha: FROM,
      toSha: TO,
      behind: 3,
      heldWrites: 1,
      durationMs: 1_400,
    });
    act(() => connection.frame({ type: "events", events: [finished], replay: false, highestSeq: 4, skipped: 0 }));
    expect(screen.queryByText(/Syncing with main/)).toBeNull();
    const line = screen.getByText(/Synced with main: 3 new commits in 1 s, 1 write waited for it/);
    expect(line.closest(".turn")).not.toBeNull();
    expect(document.querySelectorAll("[data-sync-phase]")).toHaveLength(1);
  });

  it("says when the sync failed and that the agent works on the image's commit", async () => {
    const app = renderApp("/sessions/s_1", setup());
    await waitFor(() => expect(app.connections.length).toBeGreaterThan(0));
    const connection = app.connections.at(-1)!;
    const events = [
      ev(1, { type: "sandbox.sync", syncId: "sync_2", phase: "failed", baseBranch: "main", error: "fetch refused" } as const),
    ];
    act(() => {
      connection.state({ kind: "replaying" });
      connection.frame({ type: "events", events, replay: true, highestSeq: 1, skipped: 0 });
      connection.frame({ type: "subscribed", latestSeq: 1 });
      connection.state({ kind: "live" });
    });
    expect(screen.getByText(/Sync with main failed; the agent works on the image's commit/)).toHaveTextContent("fetch refused");
  });
});
