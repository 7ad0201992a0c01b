import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { GRACE, summary } from "../fixtures";
import { fakeState, ME, toState, type FakeApiState } from "../fake-api";
import { automationFixture, fakeAutomations } from "../fake-automations";
import { renderApp } from "../render-app";

const AUTOMATION_ORIGIN = { kind: "automation" as const, automationId: "aut_1", runId: "run_1", trigger: "cron" as const };

function withSessions(): FakeApiState {
  const state = fakeState({
    automations: fakeAutomations({ automations: [automationFixture({ id: "aut_1", name: "Nightly dependency check" })] }),
    sessions: [
      summary({ id: "s_1", title: "From the dashboard", origin: { kind: "dashboard" } }),
      summary({ id: "s_2", title: "From a schedule", origin: AUTOMATION_ORIGIN, reportError: "Slack answered 500 after 8 attempts" }),
      summary({ id: "s_3", title: "From a pull request", origin: { kind: "github", repository: "acme/web", pullRequest: 42 } }),
      summary({ id: "s_4", title: "From an older server" }),
      summary({
        id: "s_5",
        title: "From an Enterprise pull request",
        origin: { kind: "github", repository: "acme/api", pullRequest: 7, url: "https://ghe.example.com/acme/api/pull/7" },
      }),
    ],
  });
  for (const session of state.sessions)
    state.sessionStates.set(session.id, toState(session, { origin: session.origin ?? { kind: "api" } }));
  return state;
}

describe("session origins", () => {
  it("the sessions list says where each session came from, naming the automation, and shows a failed report", async () => {
    renderApp("/", withSessions());
    const row = async (title: string) => (await screen.findByText(title)).closest("a")!;
    expect(within(await row("From the dashboard")).getByText("Dashboard")).toBeInTheDocument();
    const scheduled = await row("From a schedule");
    expect(await within(scheduled).findByText("Automation “Nightly dependency check”")).toBeInTheDocument();
    expect(within(scheduled).getByText("Report failed")).toHaveAttribute("title", "Slack answered 500 after 8 attempts");
    expect(within(await row("From a pull request")).getByText("GitHub PR acme/web#42")).toBeInTheDocument();
    expect(within(await row("From an older server")).getByText("API")).toBeInTheDocument();
    expect(within(await row("From the dashboard")).queryByText("Report failed")).not.toBeInTheDocument();
  });

  it("the session page links an automation's session back to the automation", async () => {
    const user = userEvent.setup();
    const app = renderApp("/sessions/s_2", withSessions());
    await screen.findByRole("heading", { name: "From a schedule" });
    const links = await screen.findAllByRole("link", { name: /Automation “Nightly dependency check”/ });
    expect(links[0]).toHaveAttribute("href", "/automations/aut_1");
    await user.click(links[0]!);
    await waitFor(() => expect(app.location()).toBe("/automations/aut_1"));
  });

  it("the session page links a pull request's session out to GitHub", async () => {
    renderApp("/sessions/s_3", withSessions());
    await screen.findByRole("heading", { name: "From a pull request" });
    const links = screen.getAllByRole("link", { name: /GitHub PR acme\/web#42/ });
    expect(links[0]).toHaveAttribute("href", "https://github.com/acme/web/pull/42");
  });

  it("the session page links a pull request on a GitHub Enterprise Server out to that server", async () => {
    renderApp("/sessions/s_5", withSessions());
    await screen.findByRole("heading", { name: "From an Enterprise pull request" });
    const links = screen.getAllByRole("link", { name: /GitHub PR acme\/api#7/ });
    expect(links[0]).toHaveAttribute("href", "https://ghe.example.com/acme/api/pull/7");
  });
});

describe("participants' roles", () => {
  function shared(myRole: "owner" | "member" | "viewer"): FakeApiState {
    const session = summary({ id: "s_1", owner: myRole === "owner" ? ME : GRACE });
    const state = fakeState({ sessions: [session] });
    state.sessionStates.set("s_1", toState(session));
    state.roles.set("s_1", myRole);
    state.participants.set("s_1", [
      { participant: session.owner, role: "owner", joinedAt: 1 },
      { participant: myRole === "owner" ? GRACE : ME, role: myRole === "owner" ? "member" : myRole, joinedAt: 2 },
    ]);
    return state;
  }

  it("the owner makes a member a viewer from the details panel", async () => {
    const user = userEvent.setup();
    const state = shared("owner");
    renderApp("/sessions/s_1", state);
    const roles = await screen.findByRole("region", { name: "Roles" });
    const select = await within(roles).findByLabelText("Role of Grace Hopper");
    expect(select).toHaveValue("member");
    await user.selectOptions(select, "viewer");
    await waitFor(() => expect(state.calls.find((call) => call.method === "PUT")).toBeDefined());
    expect(state.calls.find((call) => call.method === "PUT")).toMatchObject({
      path: "/api/sessions/s_1/participants/u_grace",
      body: { role: "viewer" },
    });
    await waitFor(() => expect(within(roles).getByLabelText("Role of Grace Hopper")).toHaveValue("viewer"));
    expect(state.participants.get("s_1")?.find((entry) => entry.participant.userId === "u_grace")?.role).toBe("viewer");
  });

  it("someone who is not the owner sees no role controls", async () => {
    renderApp("/sessions/s_1", shared("member"));
    await screen.findByRole("heading", { name: "Fix the flaky login test" });
    expect(screen.queryByRole("region", { name: "Roles" })).not.toBeInTheDocument();
    expect(screen.getByLabelText("Follow-up prompt")).toBeEnabled();
  });

  it("a member made a viewer while watching gets the composer disabled with the reason", async () => {
    const app = renderApp("/sessions/s_1", shared("member"));
    await waitFor(() => expect(app.connections.length).toBeGreaterThan(0));
    const connection = app.connections.at(-1)!;
    await screen.findByRole("heading", { name: "Fix the flaky login test" });
    expect(screen.getByLabelText("Follow-up prompt")).toBeEnabled();
    act(() =>
      connection.frame({
        type: "presence",
        entries: [
          { participant: GRACE, role: "owner", status: "active", typing: false, connections: 1 },
          { participant: ME, role: "viewer", status: "active", typing: false, connections: 1 },
        ],
      }),
    );
    expect(screen.getByLabelText("Follow-up prompt")).toBeDisabled();
    expect(screen.getByPlaceholderText(/ask its owner to make you a member/)).toBeInTheDocument();
  });
});
