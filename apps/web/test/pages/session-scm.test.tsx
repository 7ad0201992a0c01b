import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { EventPayload, SessionEvent } from "@lookout/protocol";
import { GRACE, HEAD_SHA, ev, localPullRequest, queued, summary } from "../fixtures";
import { fakeState, ME, toState, type FakeApiState } from "../fake-api";
import { renderApp, type FakeConnection } from "../render-app";

/** Source control in the session view: pushes, push approvals, the pull request and renaming. */

function setup(): FakeApiState {
  const base = summary({ id: "s_1", status: "idle", owner: ME, repositoryName: "fixture" });
  const state = fakeState({ sessions: [base] });
  state.sessionStates.set("s_1", toState(base, { sandboxStatus: "idle", branch: "lookout/fix-login" }));
  return state;
}

async function open(path: string, state: FakeApiState, events: SessionEvent[]) {
  const app = renderApp(path, state);
  await waitFor(() => expect(app.connections.length).toBeGreaterThan(0));
  const connection = app.connections.at(-1)!;
  await screen.findByRole("heading", { name: "Fix the flaky login test" });
  deliver(connection, events, true);
  act(() => connection.frame({ type: "subscribed", latestSeq: events.at(-1)?.seq ?? 0 }));
  return { app, connection };
}

function deliver(connection: FakeConnection, events: SessionEvent[], replay = false) {
  act(() => connection.frame({ type: "events", events, replay, highestSeq: events.at(-1)?.seq ?? 0, skipped: 0 }));
}

const APPROVAL_ID = "apr_1";

function approval(
  state: "pending" | "approved" | "rejected",
  extra: Partial<Extract<EventPayload, { type: "push.approval" }>> = {},
): EventPayload {
  return {
    type: "push.approval",
    approvalId: APPROVAL_ID,
    branch: "lookout/fix-login",
    headSha: HEAD_SHA,
    files: [".github/workflows/ci.yml"],
    state,
    ...extra,
  };
}

const RUN: SessionEvent[] = [
  ev(1, queued("p1", "Add a CI job", GRACE)),
  ev(2, { type: "prompt.started", promptId: "p1" }),
  ev(3, {
    type: "git.commit",
    promptId: "p1",
    sha: HEAD_SHA,
    branch: "lookout/fix-login",
    message: "Add a CI job",
    author: { name: "Grace Hopper", email: "grace@users.lookout.local" },
  }),
  ev(4, { type: "git.push", promptId: "p1", branch: "lookout/fix-login", headSha: HEAD_SHA, status: "awaiting_approval" }),
  ev(5, approval("pending")),
  ev(6, { type: "prompt.finished", promptId: "p1", status: "completed" }),
];

function prArtifact(seq: number, data: Record<string, unknown>): SessionEvent {
  return ev(seq, { type: "artifact", artifactId: "pr_1", kind: "pull_request", title: "Fix the flaky login test", data });
}

describe("pushes in the timeline", () => {
  it("shows a pushed branch, a failed push and a push waiting for approval", async () => {
    const { connection } = await open("/sessions/s_1", setup(), RUN);
    const timeline = screen.getByRole("list", { name: "Timeline" });
    const pushes = () => [...timeline.querySelectorAll(".event-line--push .event-line__text")].map((line) => line.textContent);
    expect(pushes()).toEqual([`Push of ${HEAD_SHA.slice(0, 7)} to lookout/fix-login is waiting for approval`]);
    deliver(connection, [
      ev(7, { type: "git.push", branch: "lookout/fix-login", headSha: HEAD_SHA, status: "failed", error: "remote hung up" }),
      ev(8, { type: "git.push", branch: "lookout/fix-login", headSha: HEAD_SHA, status: "pushed" }),
    ]);
    expect(pushes().slice(1)).toEqual([
      "Pushing lookout/fix-login failed: remote hung up",
      `Pushed lookout/fix-login at ${HEAD_SHA.slice(0, 7)}`,
    ]);
  });
});

describe("push approvals", () => {
  it("asks for a decision in the timeline and the footer, and approves through the API", async () => {
    const user = userEvent.setup();
    const state = setup();
    const { connection } = await open("/sessions/s_1", state, RUN);
    const cards = screen.getAllByRole("region", { name: "Push waiting for approval" });
    // One card in the timeline with the files, one compact card above the prompt box.
    expect(cards).toHaveLength(2);
    expect(cards[0]).toHaveTextContent(".github/workflows/ci.yml");
    await user.click(within(cards[1]!).getByRole("button", { name: "Approve push" }));
    await waitFor(() =>
      expect(state.calls).toContainEqual({
        method: "POST",
        path: `/api/sessions/s_1/push-approvals/${APPROVAL_ID}`,
        body: { decision: "approve" },
      }),
    );
    expect(await screen.findByText("Push approved", { selector: ".toast *, .toast" })).toBeInTheDocument();

    // The session records the decision on the same row: it is decided, once, and the buttons go.
    deliver(connection, [ev(9, approval("approved", { decidedBy: GRACE, decidedAt: 1_700_000_090_000 }))]);
    expect(screen.queryByRole("region", { name: "Push waiting for approval" })).not.toBeInTheDocument();
    const decided = screen.getByRole("region", { name: "Push approved" });
    expect(decided).toHaveTextContent("approved by Grace Hopper");
    expect(within(decided).queryByRole("button")).not.toBeInTheDocument();
  });

  it("rejects, and says why when the API refuses", async () => {
    const user = userEvent.setup();
    const state = setup();
    state.overrides.set(`POST /api/sessions/s_1/push-approvals/${APPROVAL_ID}`, {
      status: 409,
      body: { error: { code: "CONFLICT", message: "This push was already approved." } },
    });
    await open("/sessions/s_1", state, RUN);
    const card = screen.getAllByRole("region", { name: "Push waiting for approval" })[0]!;
    await user.click(within(card).getByRole("button", { name: "Reject" }));
    expect(await screen.findByText("This push was already approved.")).toBeInTheDocument();
    expect(state.calls.find((call) => call.path.includes("push-approvals"))?.body).toEqual({ decision: "reject" });
    // Refused: the buttons are back for another try.
    expect(within(card).getByRole("button", { name: "Reject" })).toBeEnabled();
  });

  it("shows a viewer the request without buttons", async () => {
    const state = setup();
    state.roles.set("s_1", "viewer");
    await open("/sessions/s_1", state, RUN);
    await waitFor(() => expect(screen.getByLabelText("Follow-up prompt")).toBeDisabled());
    const card = screen.getAllByRole("region", { name: "Push waiting for approval" })[0]!;
    expect(within(card).queryByRole("button")).not.toBeInTheDocument();
    expect(card).toHaveTextContent("Viewers cannot decide");
  });
});

describe("the pull request tab", () => {
  it("opens a pull request from the button and shows the review record", async () => {
    const user = userEvent.setup();
    const state = setup();
    state.pullRequestTemplates.set("s_1", localPullRequest());
    const { connection } = await open("/sessions/s_1?tab=pull-request", state, RUN);
    const form = await screen.findByRole("form", { name: "Create pull request" });
    expect(form).toHaveTextContent("Proposes lookout/fix-login for main of fixture.");
    await user.type(within(form).getByLabelText("Title"), "Retry login 5 times");
    await user.click(within(form).getByRole("button", { name: "Create pull request" }));
    await waitFor(() =>
      expect(state.calls).toContainEqual({
        method: "POST",
        path: "/api/sessions/s_1/pull-request",
        body: { title: "Retry login 5 times" },
      }),
    );

    const panel = await screen.findByRole("region", { name: "Commits" });
    expect(within(panel).getByText("Retry login 5 times")).toBeInTheDocument();
    expect(within(panel).getByText("Grace Hopper")).toHaveAttribute("title", "Grace Hopper <grace@users.lookout.local>");
    const diff = screen.getByRole("region", { name: "Diff of src/login.ts" });
    expect(within(diff).getByText("return retry(5);", { exact: false }).closest("tr")).toHaveClass("diff__line--add");
    expect(screen.getByText("main ← lookout/fix-login")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Retry login 5 times" })).toBeInTheDocument();
    expect(document.querySelector("[data-pr-state]")).toHaveTextContent("Draft");

    // The artifact row in the event log carries the state to the tab.
    deliver(connection, [prArtifact(10, { provider: "local", state: "open", draft: true, number: null })]);
    expect(within(screen.getByRole("tab", { name: /Pull request/ })).getByText("Draft")).toBeInTheDocument();
  });

  it("sends the ready-for-review choice, and says why a pull request cannot be opened yet", async () => {
    const user = userEvent.setup();
    const state = setup();
    await open("/sessions/s_1?tab=pull-request", state, RUN);
    const form = await screen.findByRole("form", { name: "Create pull request" });
    await user.click(within(form).getByRole("checkbox", { name: /Ready for review/ }));
    await user.click(within(form).getByRole("button", { name: "Create pull request" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent(
      "The branch lookout/fix-login has not been pushed to the repository yet.",
    );
    expect(state.calls.find((call) => call.path === "/api/sessions/s_1/pull-request" && call.method === "POST")?.body).toEqual({
      draft: false,
    });
  });

  it("merges a local pull request after confirmation", async () => {
    const user = userEvent.setup();
    const state = setup();
    state.pullRequests.set("s_1", localPullRequest({ draft: false }));
    await open("/sessions/s_1?tab=pull-request", state, [...RUN, prArtifact(7, { state: "open", draft: false })]);
    await user.click(await screen.findByRole("button", { name: "Merge" }));
    // The tab, the panel and the sidebar's card all say it is open (not a draft).
    expect(screen.getAllByText("Open", { selector: "[data-pr-state]" })).toHaveLength(3);
    const dialog = screen.getByRole("dialog");
    expect(dialog).toHaveTextContent(`It merges exactly the reviewed head, ${HEAD_SHA.slice(0, 7)}.`);
    await user.click(within(dialog).getByRole("button", { name: "Merge" }));
    await waitFor(() => expect(state.calls.some((call) => call.path === "/api/sessions/s_1/pull-request/merge")).toBe(true));
    expect((await screen.findByText(/^Merged into/)).closest(".callout")).toHaveTextContent(`Merged into main as ${"f".repeat(7)}`);
    expect(screen.queryByRole("button", { name: "Merge" })).not.toBeInTheDocument();
  });

  it("lists the conflicting files when a merge conflicts", async () => {
    const user = userEvent.setup();
    const state = setup();
    state.pullRequests.set("s_1", localPullRequest());
    state.overrides.set("POST /api/sessions/s_1/pull-request/merge", {
      status: 409,
      body: {
        error: {
          code: "MERGE_CONFLICT",
          message: "Merging lookout/fix-login into main conflicts in 2 file(s): src/login.ts, README.md.",
          details: { files: ["src/login.ts", "README.md"] },
        },
      },
    });
    await open("/sessions/s_1?tab=pull-request", state, RUN);
    await user.click(await screen.findByRole("button", { name: "Merge" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Merge" }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("This branch conflicts with main in 2 files");
    expect(
      within(alert)
        .getAllByRole("listitem")
        .map((item) => item.textContent),
    ).toEqual(["src/login.ts", "README.md"]);
    expect(alert).toHaveTextContent("Ask the agent to merge main into its branch");
  });

  it("links a GitHub pull request to GitHub and offers no merge", async () => {
    const state = setup();
    state.pullRequests.set(
      "s_1",
      localPullRequest({ provider: "github", number: 42, url: "https://github.com/acme/web/pull/42", openedAs: "app", review: null }),
    );
    await open("/sessions/s_1?tab=pull-request", state, RUN);
    expect(await screen.findByRole("link", { name: "Open on GitHub ↗" })).toHaveAttribute("href", "https://github.com/acme/web/pull/42");
    expect(screen.getByRole("heading", { level: 2, name: /Fix the flaky login test/ })).toHaveTextContent("#42");
    expect(screen.getByText(/through the Lookout App/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Merge" })).not.toBeInTheDocument();
    expect(screen.getByText(/reviewed and merged on GitHub/)).toBeInTheDocument();
  });
});

describe("renaming a session", () => {
  it("renames in place with Enter, and Escape leaves the title alone", async () => {
    const user = userEvent.setup();
    const state = setup();
    await open("/sessions/s_1", state, RUN);
    await user.click(screen.getByRole("button", { name: "Rename session" }));
    await user.keyboard("{Escape}");
    expect(screen.getByRole("heading", { name: "Fix the flaky login test" })).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Rename session" }));
    const input = screen.getByRole("textbox", { name: "Session title" });
    await user.clear(input);
    await user.type(input, "Login retries{Enter}");
    await waitFor(() =>
      expect(state.calls).toContainEqual({ method: "PATCH", path: "/api/sessions/s_1", body: { title: "Login retries" } }),
    );
    expect(await screen.findByRole("heading", { name: "Login retries" })).toBeInTheDocument();
  });
});
