import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "@lookout/protocol";
import { ApiError } from "../../src/api/api-error";
import { GRACE, PR_DIFF, ev, pending, queued, summary, text, tool } from "../fixtures";
import { fakeState, ME, toState } from "../fake-api";
import { renderApp } from "../render-app";
import { connected, replay, runningSession } from "../session-page";

const RUN: SessionEvent[] = [
  ev(1, { type: "session.created", title: "Fix login", repositoryId: "r_1", baseBranch: "main", model: "scripted/demo", owner: ME }),
  ev(2, queued("p1", "Make the **login** retry 5 times", GRACE)),
  ev(3, { type: "prompt.started", promptId: "p1" }),
  ev(4, { type: "sandbox.status", status: "ready" }),
  ev(5, text("p1", "m1", "I'll look at `login.ts`.\n\n<img src=x onerror=alert(1)>")),
  ev(6, tool("p1", "c1", "completed", { title: "Read src/login.ts", output: "export function login() {}" })),
  ev(7, {
    type: "files.changed",
    promptId: "p1",
    files: [{ path: "src/login.ts", change: "modified", additions: 1, deletions: 1 }],
    diff: PR_DIFF,
  }),
  ev(8, {
    type: "step.finished",
    promptId: "p1",
    tokens: { input: 1200, output: 300, reasoning: 0, cacheRead: 0, cacheWrite: 0 },
    costUsd: 0.0042,
  }),
  ev(9, {
    type: "artifact",
    artifactId: "pr1",
    kind: "pull_request",
    title: "Retry login 5 times",
    url: "https://github.com/acme/web/pull/7",
    data: { number: 7 },
  }),
];

describe("session view", () => {
  it("shows the session header from the REST detail, then the replayed timeline", async () => {
    const app = renderApp("/sessions/s_1", runningSession());
    expect(await screen.findByRole("heading", { name: "Fix the flaky login test" })).toBeInTheDocument();
    const connection = await connected(app);
    expect(connection.started).toBe(true);
    expect(screen.getByText("Loading the timeline…")).toBeInTheDocument();
    replay(connection, RUN);

    const turn = screen.getByRole("article", { name: "Prompt 1 by Grace Hopper" });
    expect(within(turn).getByText("login", { selector: "strong" })).toBeInTheDocument();
    expect(within(turn).getByRole("img", { name: "Grace Hopper" })).toHaveTextContent("GH");
    expect(within(turn).getByText("login.ts", { selector: "code" })).toBeInTheDocument();
    expect(within(turn).getByText("Sandbox ready")).toBeInTheDocument();
    expect(within(turn).getByText(/1 step · 1.2K in · 300 out/)).toHaveTextContent("$0.0042");
    expect(screen.getByText(/Ada Lovelace/, { selector: "strong" }).closest(".event-line")).toHaveTextContent("acme/web");
  });

  it("renders agent markdown without injecting raw HTML", async () => {
    const app = renderApp("/sessions/s_1", runningSession());
    replay(await connected(app), RUN);
    expect(document.querySelector(".turn img")).toBeNull();
    expect(screen.getByText(/<img src=x onerror=alert\(1\)>/)).toBeInTheDocument();
  });

  it("streams: a later event with the same key replaces the row instead of adding one", async () => {
    const app = renderApp("/sessions/s_1", runningSession());
    const connection = await connected(app);
    replay(connection, RUN.slice(0, 5));
    act(() =>
      connection.frame({
        type: "events",
        events: [ev(10, text("p1", "m1", "I'll look at `login.ts` and fix it."))],
        replay: false,
        highestSeq: 10,
        skipped: 0,
      }),
    );
    expect(screen.getAllByText(/I'll look at/)).toHaveLength(1);
    expect(screen.getByText(/and fix it\./)).toBeInTheDocument();
  });

  it("expands a tool call to show its input and output", async () => {
    const user = userEvent.setup();
    const app = renderApp("/sessions/s_1", runningSession());
    replay(await connected(app), RUN);
    await user.click(screen.getByRole("button", { name: /Read src\/login.ts/ }));
    expect(screen.getByText("Input")).toBeInTheDocument();
    expect(screen.getByText(/"command": "ls"/)).toBeInTheDocument();
    expect(screen.getByText("export function login() {}")).toBeInTheDocument();
  });

  it("shows changed files with a colored unified diff in the Changes tab, and artifacts", async () => {
    const user = userEvent.setup();
    const app = renderApp("/sessions/s_1", runningSession());
    replay(await connected(app), RUN);
    await user.click(screen.getByRole("button", { name: "Review changes" }));
    const diff = await screen.findByRole("region", { name: "Diff of src/login.ts" });
    const added = within(diff).getByText("return retry(5);", { exact: false }).closest("tr");
    const removed = within(diff).getByText("return retry(3);", { exact: false }).closest("tr");
    expect(added).toHaveClass("diff__line--add");
    expect(removed).toHaveClass("diff__line--del");
    const changes = screen.getByRole("tabpanel");
    expect(within(changes).getByRole("link", { name: "Retry login 5 times" })).toHaveAttribute(
      "href",
      "https://github.com/acme/web/pull/7",
    );
    expect(app.location()).toContain("tab=changes");
  });

  it("sends a follow-up with Cmd+Enter through the API, and the draft survives until accepted", async () => {
    const user = userEvent.setup();
    const state = runningSession();
    const app = renderApp("/sessions/s_1", state);
    replay(await connected(app), RUN);
    const box = screen.getByLabelText("Follow-up prompt");
    await user.type(box, "Also add a test");
    expect(localStorage.getItem("lookout:draft:session:s_1")).toContain("Also add a test");
    await user.keyboard("{Control>}{Enter}{/Control}");
    await waitFor(() => expect(box).toHaveValue(""));
    const call = state.calls.find((entry) => entry.path === "/api/sessions/s_1/prompts");
    expect(call?.body).toMatchObject({ text: "Also add a test", requestId: expect.any(String) });
  });

  it("pre-warms: typing sends a typing frame on the socket", async () => {
    const user = userEvent.setup();
    const app = renderApp("/sessions/s_1", runningSession());
    const connection = await connected(app);
    replay(connection, RUN);
    await user.type(screen.getByLabelText("Follow-up prompt"), "a");
    expect(connection.sent).toContainEqual({ type: "typing", typing: true });
  });

  it("lists queued prompts and cancels one", async () => {
    const user = userEvent.setup();
    const state = runningSession();
    state.queues.set("s_1", [pending("p2", "Then update the docs")]);
    const app = renderApp("/sessions/s_1", state);
    const connection = await connected(app);
    replay(connection, RUN);
    act(() => connection.frame({ type: "queue", prompts: [pending("p2", "Then update the docs")] }));
    const queue = screen.getByRole("region", { name: "Queued prompts" });
    expect(queue).toHaveTextContent("Then update the docs");
    await user.click(within(queue).getByRole("button", { name: /Cancel queued prompt/ }));
    await waitFor(() =>
      expect(state.calls.some((call) => call.method === "DELETE" && call.path === "/api/sessions/s_1/prompts/p2")).toBe(true),
    );
  });

  it("stops a running session", async () => {
    const user = userEvent.setup();
    const state = runningSession();
    const app = renderApp("/sessions/s_1", state);
    replay(await connected(app), RUN);
    await user.click(screen.getByRole("button", { name: /Stop/ }));
    await waitFor(() => expect(state.calls.some((call) => call.path === "/api/sessions/s_1/stop")).toBe(true));
  });

  it("shows an API error as a toast, in the API's words", async () => {
    const user = userEvent.setup();
    const state = runningSession();
    state.overrides.set("POST /api/sessions/s_1/stop", {
      status: 409,
      body: { error: { code: "NOTHING_RUNNING", message: "No prompt is running." } },
    });
    const app = renderApp("/sessions/s_1", state);
    replay(await connected(app), RUN);
    await user.click(screen.getByRole("button", { name: /Stop/ }));
    expect(await screen.findByText("No prompt is running.")).toBeInTheDocument();
  });

  it("shows who is here and who is typing", async () => {
    const app = renderApp("/sessions/s_1", runningSession());
    const connection = await connected(app);
    replay(connection, RUN);
    act(() =>
      connection.frame({
        type: "presence",
        entries: [
          { participant: ME, role: "owner", status: "active", typing: false, connections: 1 },
          { participant: GRACE, role: "member", status: "idle", typing: true, connections: 1 },
        ],
      }),
    );
    expect(screen.getByText("Grace Hopper is typing")).toBeInTheDocument();
    expect(screen.getAllByRole("img", { name: "Grace Hopper — typing" }).length).toBeGreaterThan(0);
  });

  it("lets a viewer watch but not prompt, stop or rename, as the session says", async () => {
    const state = runningSession();
    state.roles.set("s_1", "viewer");
    const app = renderApp("/sessions/s_1", state);
    const connection = await connected(app);
    replay(connection, RUN);
    await waitFor(() => expect(screen.getByLabelText("Follow-up prompt")).toBeDisabled());
    expect(screen.queryByRole("button", { name: /Stop/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Rename session" })).not.toBeInTheDocument();
  });

  it("takes the role from the socket's hello once it has spoken", async () => {
    const app = renderApp("/sessions/s_1", runningSession());
    const connection = await connected(app);
    replay(connection, RUN);
    expect(await screen.findByRole("button", { name: /Stop/ })).toBeInTheDocument();
    act(() =>
      connection.frame({
        type: "hello",
        connectionId: "c1",
        participant: ME,
        role: "viewer",
        session: toState(summary({ owner: ME })),
        latestSeq: 9,
      }),
    );
    expect(screen.getByLabelText("Follow-up prompt")).toBeDisabled();
    expect(screen.queryByRole("button", { name: /Stop/ })).not.toBeInTheDocument();
  });

  it("archives after confirmation and then offers to unarchive", async () => {
    const user = userEvent.setup();
    const state = runningSession();
    const app = renderApp("/sessions/s_1", state);
    replay(await connected(app), RUN);
    await user.click(screen.getByRole("button", { name: "Archive" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Archive" }));
    await waitFor(() => expect(state.calls.some((call) => call.path === "/api/sessions/s_1/archive")).toBe(true));
    expect(await screen.findByRole("button", { name: "Unarchive" })).toBeInTheDocument();
    expect(screen.getByLabelText("Follow-up prompt")).toBeDisabled();
  });

  it("says when it is reconnecting and when it is live", async () => {
    const app = renderApp("/sessions/s_1", runningSession());
    const connection = await connected(app);
    act(() => connection.state({ kind: "waiting", attempt: 2, retryAt: Date.now() + 4000, reason: "connection closed (1006)" }));
    expect(screen.getByText(/Reconnecting in \d+s/)).toBeInTheDocument();
    act(() => connection.state({ kind: "live" }));
    expect(screen.getByText("Live")).toBeInTheDocument();
  });

  it("keeps the timeline moving over REST while the socket is down, without duplicates", async () => {
    const state = runningSession();
    state.events.set("s_1", RUN);
    const app = renderApp("/sessions/s_1", state);
    const connection = await connected(app);
    replay(connection, RUN.slice(0, 5));
    expect(screen.queryByRole("button", { name: /Read src\/login.ts/ })).not.toBeInTheDocument();
    act(() => connection.state({ kind: "waiting", attempt: 1, retryAt: Date.now() + 10_000, reason: "connection closed (1006)" }));
    expect(await screen.findByRole("button", { name: /Read src\/login.ts/ })).toBeInTheDocument();
    expect(state.calls.some((call) => call.path.startsWith("/api/sessions/s_1/events?after=5"))).toBe(true);
    // The socket comes back and replays an overlap: nothing shows twice.
    replay(connection, RUN.slice(3));
    expect(screen.getAllByRole("button", { name: /Read src\/login.ts/ })).toHaveLength(1);
  });

  it("coming back to a session shows what it had and resumes after the last event seen", async () => {
    const state = runningSession();
    const first = renderApp("/sessions/s_1", state);
    replay(await connected(first), RUN);
    first.unmount();
    const second = renderApp("/sessions/s_1", state);
    expect(await screen.findByRole("button", { name: /Read src\/login.ts/ })).toBeInTheDocument();
    expect((await connected(second)).callbacks.afterSeq()).toBe(9);
  });

  it("explains a session that does not exist", async () => {
    renderApp("/sessions/nope", fakeState());
    expect(await screen.findByText("Session not found")).toBeInTheDocument();
    expect(screen.getByText("No session has this id.")).toBeInTheDocument();
  });

  it("stops live updates and says why when the socket is refused", async () => {
    const app = renderApp("/sessions/s_1", runningSession());
    const connection = await connected(app);
    await screen.findByRole("heading", { name: "Fix the flaky login test" });
    act(() => connection.state({ kind: "failed", error: new ApiError(403, "FORBIDDEN", "You are not allowed to do this.") }));
    expect(screen.getByText("Live updates stopped")).toBeInTheDocument();
  });
});
