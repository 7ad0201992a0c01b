import { act, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "@lookout/protocol";
import { GRACE, ev, queued } from "../fixtures";
import { renderApp } from "../render-app";
import { connected, replay, runningSession } from "../session-page";

const FROM = "a".repeat(40);
const TO = "b".repeat(40);

describe("the timeline's sync step", () => {
  it("shows a sandbox catching up with the base as one line that evolves from syncing to what it brought in", async () => {
    const connection = await connected(renderApp("/sessions/s_1", runningSession()));
    const started: SessionEvent[] = [
      ev(1, queued("p1", "Fix the login", GRACE)),
      ev(2, { type: "prompt.started", promptId: "p1" }),
      ev(3, { type: "sandbox.sync", syncId: "sync_1", phase: "started", baseBranch: "main" }),
    ];
    replay(connection, started);
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
    const connection = await connected(renderApp("/sessions/s_1", runningSession()));
    const events = [
      ev(1, { type: "sandbox.sync", syncId: "sync_2", phase: "failed", baseBranch: "main", error: "fetch refused" } as const),
    ];
    replay(connection, events);
    expect(screen.getByText(/Sync with main failed; the agent works on the image's commit/)).toHaveTextContent("fetch refused");
  });
});
