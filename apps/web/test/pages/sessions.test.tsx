import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ACME_WEB, GRACE, summary } from "../fixtures";
import { fakeState, type FakeApiState } from "../fake-api";
import { renderApp } from "../render-app";

function withSessions(count: number): FakeApiState {
  const sessions = Array.from({ length: count }, (_, index) =>
    summary({
      id: `s_${index + 1}`,
      title: `Session ${index + 1}`,
      status: index % 3 === 0 ? "running" : "idle",
      owner: index % 2 === 0 ? { userId: "u_ada", name: "Ada Lovelace" } : GRACE,
      lastActivityAt: Date.now() - index * 60_000,
      costUsd: 0.5 + index,
    }),
  );
  return fakeState({
    sessions,
    repositories: [ACME_WEB],
  });
}

describe("sessions list", () => {
  it("shows each session's status, title, repository, owner, cost and last activity", async () => {
    renderApp("/", withSessions(2));
    const list = await screen.findByRole("list", { name: "Sessions" });
    const first = within(list).getAllByRole("listitem")[0]!;
    expect(first).toHaveTextContent("Session 1");
    expect(first).toHaveTextContent("Running");
    expect(first).toHaveTextContent("acme/web");
    expect(first).toHaveTextContent("Ada Lovelace");
    expect(first).toHaveTextContent("$0.500");
    expect(first).toHaveTextContent(/just now|min/);
    expect(within(first).getByRole("link")).toHaveAttribute("href", "/sessions/s_1");
  });

  it("pages with a cursor: Load more appends the next page", async () => {
    const user = userEvent.setup();
    renderApp("/", withSessions(30));
    const list = await screen.findByRole("list", { name: "Sessions" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(25);
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(30));
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
  });

  it("filters by status, repository, owner and search, through the API's query", async () => {
    const user = userEvent.setup();
    const app = renderApp("/", withSessions(6));
    await screen.findByRole("list", { name: "Sessions" });
    await user.selectOptions(screen.getByLabelText("Status"), "running");
    await user.selectOptions(screen.getByLabelText("Repository"), "r_1");
    await user.selectOptions(screen.getByLabelText("Owner"), "me");
    await user.type(screen.getByLabelText("Search sessions"), "Session 1");
    await waitFor(() => {
      const last = app.state.calls.filter((call) => call.path.startsWith("/api/sessions?")).at(-1);
      expect(last?.path).toContain("status=running");
      expect(last?.path).toContain("repositoryId=r_1");
      expect(last?.path).toContain("ownerId=u_ada");
      expect(last?.path).toContain("q=Session+1");
    });
    const list = await screen.findByRole("list", { name: "Sessions" });
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(1));
    expect(app.location()).toContain("status=running");
  });

  it("shows archived sessions in their own view", async () => {
    const user = userEvent.setup();
    const state = withSessions(2);
    state.sessions[1] = { ...state.sessions[1]!, archived: true, title: "Old work" };
    const app = renderApp("/", state);
    await screen.findByText("Session 1");
    await user.click(screen.getByRole("button", { name: "Archived" }));
    expect(await screen.findByText("Old work")).toBeInTheDocument();
    expect(screen.queryByText("Session 1")).not.toBeInTheDocument();
    expect(app.state.calls.at(-1)?.path).toContain("archived=true");
  });

  it("invites to start a session when there are none, and says when filters match nothing", async () => {
    const user = userEvent.setup();
    renderApp("/", fakeState());
    expect(await screen.findByText("No sessions yet")).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Status"), "failed");
    expect(await screen.findByText("No sessions match")).toBeInTheDocument();
  });

  it("shows the API's error message with a retry", async () => {
    const state = withSessions(1);
    state.overrides.set("GET /api/sessions", {
      status: 500,
      body: { error: { code: "INTERNAL", message: "Something went wrong on our side. Try again." } },
    });
    renderApp("/", state);
    expect(await screen.findByText("Something went wrong on our side. Try again.")).toBeInTheDocument();
    state.overrides.clear();
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("Session 1")).toBeInTheDocument();
  });

  it("moves through rows with j and k, and c opens the composer", async () => {
    const user = userEvent.setup();
    const app = renderApp("/", withSessions(3));
    await screen.findByText("Session 1");
    await user.keyboard("j");
    expect(document.activeElement).toHaveAttribute("href", "/sessions/s_1");
    await user.keyboard("jk");
    expect(document.activeElement).toHaveAttribute("href", "/sessions/s_1");
    await user.keyboard("/");
    expect(document.activeElement).toBe(screen.getByLabelText("Search sessions"));
    await user.keyboard("{Escape}c");
    await waitFor(() => expect(app.location()).toBe("/new"));
  });
});
