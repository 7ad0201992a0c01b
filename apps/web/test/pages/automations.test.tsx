import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Repository } from "@lookout/protocol";
import { fakeState, type FakeApiState } from "../fake-api";
import { automationFixture, fakeAutomations, runFixture } from "../fake-automations";
import { renderApp } from "../render-app";

const REPO: Repository = {
  id: "r_1",
  kind: "local",
  fullName: "tools",
  name: "tools",
  owner: null,
  path: "/src/tools",
  defaultBranch: "main",
  description: null,
  createdAt: 1,
  updatedAt: 1,
};

function setup(automations = fakeAutomations()): FakeApiState {
  return fakeState({ repositories: [REPO], automations });
}

/** Replaces a field's text in one paste (typing key by key is slow on a busy runner). */
async function fill(user: ReturnType<typeof userEvent.setup>, field: HTMLElement, text: string): Promise<void> {
  await user.clear(field);
  await user.click(field);
  await user.paste(text);
}

const posts = (state: FakeApiState, path: string) => state.calls.filter((call) => call.method !== "GET" && call.path === path);

describe("automations list", () => {
  it("shows each automation's status (with the pause reason), trigger, next run and last result", async () => {
    const state = setup(
      fakeAutomations({
        automations: [
          automationFixture({ id: "aut_1", name: "Nightly dependency check", nextRunAt: Date.now() + 2 * 3_600_000 }),
          automationFixture({
            id: "aut_2",
            name: "Triage checkout errors",
            trigger: { kind: "sentry" },
            enabled: false,
            nextRunAt: null,
            pausedReason: "Paused after 3 failed runs in a row",
            consecutiveFailures: 3,
          }),
        ],
        runs: new Map([
          ["aut_2", [runFixture({ automationId: "aut_2", status: "failed", reason: "The session failed: tests did not pass" })]],
        ]),
      }),
    );
    renderApp("/automations", state);
    const list = await screen.findByRole("list", { name: "Automations" });
    const nightly = within(list).getByText("Nightly dependency check").closest("a")!;
    expect(nightly).toHaveTextContent("Active");
    expect(nightly).toHaveTextContent("0 9 * * 1-5");
    expect(nightly).toHaveTextContent(/next in 2 hr/);
    expect(await within(nightly).findByText("never run")).toBeInTheDocument();

    const sentry = within(list).getByText("Triage checkout errors").closest("a")!;
    expect(sentry).toHaveTextContent("Paused");
    expect(sentry).toHaveTextContent("Paused after 3 failed runs in a row");
    expect(sentry).toHaveTextContent("Sentry");
    expect(await within(sentry).findByText("Failed")).toBeInTheDocument();
    expect(sentry).toHaveAttribute("href", "/automations/aut_2");
  });

  it("invites creating the first one", async () => {
    renderApp("/automations", setup());
    expect(await screen.findByText("No automations yet")).toBeInTheDocument();
  });
});

describe("creating and editing automations", () => {
  it("creates a scheduled automation, previewing its next runs and explaining a schedule that fires too often", async () => {
    const user = userEvent.setup();
    const state = setup();
    const app = renderApp("/automations/new", state);
    await fill(user, await screen.findByLabelText("Name"), "Weekly cleanup");
    await fill(user, screen.getByLabelText("Instructions"), "Remove dead code.");
    const expression = screen.getByLabelText("Cron expression");
    await fill(user, expression, "* * * * *");
    const preview = screen.getByRole("region", { name: "Next runs" });
    expect(await within(preview).findByText(/minimum interval is 15 minutes/)).toBeInTheDocument();

    await fill(user, expression, "0 6 * * 1");
    await user.selectOptions(screen.getByLabelText("Time zone"), "Europe/Berlin");
    await waitFor(() => expect(within(preview).getAllByRole("listitem")).toHaveLength(3));
    expect(state.calls.some((call) => call.path.includes("cron-preview?expression=0+6+*+*+1&timeZone=Europe%2FBerlin"))).toBe(true);

    await user.click(screen.getByRole("button", { name: "Create automation" }));
    await waitFor(() => expect(app.location()).toMatch(/^\/automations\/aut_\d+$/));
    expect(posts(state, "/api/automations")[0]?.body).toEqual({
      name: "Weekly cleanup",
      instructions: "Remove dead code.",
      repositoryId: "r_1",
      baseBranch: null,
      model: null,
      reasoningEffort: null,
      trigger: { kind: "cron", expression: "0 6 * * 1", timeZone: "Europe/Berlin" },
      triage: "follow-up",
      maxConcurrentRuns: 1,
      enabled: true,
    });
    expect(await screen.findByRole("heading", { name: "Weekly cleanup" })).toBeInTheDocument();
    expect(screen.getByText("Schedule · 0 6 * * 1 (Europe/Berlin)")).toBeInTheDocument();
  });

  it("checks the form before sending anything", async () => {
    const user = userEvent.setup();
    const state = setup();
    renderApp("/automations/new", state);
    const expression = await screen.findByLabelText("Cron expression");
    await fill(user, expression, "0 9 *");
    await user.click(screen.getByRole("button", { name: "Create automation" }));
    expect(screen.getByLabelText("Name")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("Write five fields (minute hour day-of-month month day-of-week), not 3.")).toBeInTheDocument();
    expect(posts(state, "/api/automations")).toHaveLength(0);
  });

  it("edits an automation, sending only what changed", async () => {
    const user = userEvent.setup();
    const state = setup(fakeAutomations({ automations: [automationFixture()] }));
    const app = renderApp("/automations/aut_1/edit", state);
    const name = await screen.findByLabelText("Name");
    await fill(user, name, "Nightly deps");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(app.location()).toBe("/automations/aut_1"));
    expect(state.calls.filter((call) => call.method === "PATCH").map((call) => call.body)).toEqual([{ name: "Nightly deps" }]);
  });
});

describe("a webhook automation", () => {
  it("shows its key once after creating it, saves conditions and tests a payload against them", async () => {
    const user = userEvent.setup();
    const state = setup();
    const app = renderApp("/automations/new", state);
    await fill(user, await screen.findByLabelText("Name"), "Label triage");
    await fill(user, screen.getByLabelText("Instructions"), "Triage the issue.");
    await user.click(within(screen.getByRole("group", { name: "Trigger type" })).getByRole("button", { name: /Webhook/ }));
    await user.click(screen.getByRole("button", { name: "Create automation" }));

    const keyBox = await screen.findByRole("status", { name: "New webhook key" });
    const issued = state.automations.issuedKeys.get("aut_1")?.[0];
    expect(issued).toBeDefined();
    expect(within(keyBox).getByText(issued!)).toBeInTheDocument();
    expect(keyBox).toHaveTextContent("X-Lookout-Webhook-Key");
    expect(screen.getByText("http://lookout.test/api/triggers/webhooks/aut_1")).toBeInTheDocument();
    // The key travels in the navigation only once: the history entry no longer carries it.
    await waitFor(() => expect(app.locationState()).toBeNull());
    expect(app.location()).toBe("/automations/aut_1");

    await user.click(screen.getByRole("button", { name: "+ Add condition" }));
    await fill(user, screen.getByLabelText("Condition 1 path"), "$.action");
    await fill(user, screen.getByLabelText("Condition 1 value"), "opened");
    await user.click(screen.getByRole("button", { name: "+ Add condition" }));
    await fill(user, screen.getByLabelText("Condition 2 path"), "$.items[?(@.x)]");
    await user.selectOptions(screen.getByLabelText("Condition 2 test"), "exists");
    await user.click(screen.getByRole("button", { name: "Save webhook settings" }));
    expect(await screen.findByText(/Condition 2: Path: filter and script expressions/)).toBeInTheDocument();
    expect(state.calls.filter((call) => call.method === "PUT")).toHaveLength(0);

    await fill(user, screen.getByLabelText("Condition 2 path"), "$.issue.title");
    await user.click(screen.getByRole("button", { name: "Save webhook settings" }));
    await waitFor(() => expect(state.calls.filter((call) => call.method === "PUT")).toHaveLength(1));
    expect(state.calls.find((call) => call.method === "PUT")?.body).toEqual({
      conditions: [
        { path: "$.action", op: "equals", value: "opened" },
        { path: "$.issue.title", op: "exists" },
      ],
      idempotency: null,
      template: null,
    });

    await user.click(await screen.findByRole("button", { name: "Test payload" }));
    const result = await screen.findByRole("status", { name: "Test result" });
    expect(result).toHaveTextContent("A delivery like this starts a run");
    expect(within(result).getAllByText("✓ matched")).toHaveLength(2);

    await fill(user, screen.getByLabelText("Sample payload (JSON)"), '{"action": "closed"}');
    await user.click(screen.getByRole("button", { name: "Test payload" }));
    await waitFor(() =>
      expect(screen.getByRole("status", { name: "Test result" })).toHaveTextContent("A delivery like this starts nothing"),
    );
    expect(within(screen.getByRole("status", { name: "Test result" })).getAllByText("✗ no match")).toHaveLength(2);
  });

  it("regenerates the key after confirmation and shows the new one", async () => {
    const user = userEvent.setup();
    const automations = fakeAutomations({ automations: [automationFixture({ trigger: { kind: "webhook" }, nextRunAt: null })] });
    const state = setup(automations);
    renderApp("/automations/aut_1", state);
    await user.click(await screen.findByRole("button", { name: "Generate key" }));
    const first = await screen.findByRole("status", { name: "New webhook key" });
    expect(first).toHaveTextContent(automations.issuedKeys.get("aut_1")![0]!);
    await user.click(await screen.findByRole("button", { name: "Regenerate key" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Regenerate" }));
    await waitFor(() => expect(automations.issuedKeys.get("aut_1")).toHaveLength(2));
    expect(await screen.findByText(automations.issuedKeys.get("aut_1")![1]!)).toBeInTheDocument();
  });
});

describe("a Sentry automation", () => {
  it("shows the URL and setup steps, and saves the client secret and filters", async () => {
    const user = userEvent.setup();
    const state = setup(fakeAutomations({ automations: [automationFixture({ trigger: { kind: "sentry" }, nextRunAt: null })] }));
    renderApp("/automations/aut_1", state);
    expect(await screen.findByText("http://lookout.test/api/triggers/sentry/aut_1")).toBeInTheDocument();
    expect(screen.getByRole("region", { name: "Sentry setup" })).toHaveTextContent("Client Secret");

    await user.click(screen.getByRole("button", { name: "Save Sentry settings" }));
    expect(await screen.findByText("Paste the integration's client secret first.")).toBeInTheDocument();

    await fill(user, screen.getByLabelText("Client secret"), "0123456789abcdef0123");
    const levels = screen.getByRole("group", { name: /^Levels/ });
    await user.click(within(levels).getByRole("checkbox", { name: "error" }));
    await user.click(within(levels).getByRole("checkbox", { name: "fatal" }));
    await fill(user, screen.getByLabelText("Projects"), "web, api");
    await fill(user, screen.getByLabelText("Environments"), "production");
    await user.click(screen.getByRole("button", { name: "Save Sentry settings" }));
    await waitFor(() => expect(state.calls.find((call) => call.method === "PUT")).toBeDefined());
    expect(state.calls.find((call) => call.method === "PUT")?.body).toEqual({
      clientSecret: "0123456789abcdef0123",
      conditions: { resources: [], projects: ["web", "api"], environments: ["production"], levels: ["error", "fatal"] },
    });
    expect(await screen.findByPlaceholderText("Saved (leave empty to keep it)")).toBeInTheDocument();
  });
});

describe("acting on an automation", () => {
  it("runs it now; the run shows in the history with its session", async () => {
    const user = userEvent.setup();
    const state = setup(fakeAutomations({ automations: [automationFixture()] }));
    renderApp("/automations/aut_1", state);
    expect(await screen.findByText("No runs yet")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "▶ Run now" }));
    const runs = await screen.findByRole("list", { name: "Runs" });
    const run = within(runs).getByText("Run now").closest("li")!;
    expect(run).toHaveTextContent("Starting");
    expect(within(run).getByRole("link", { name: "Open session" })).toHaveAttribute("href", expect.stringMatching(/^\/sessions\/s_\d+$/));
    const request = posts(state, "/api/automations/aut_1/run")[0]?.body;
    expect(request).toEqual({ requestId: expect.any(String) });
  });

  it("shows why runs were skipped or failed, and a failed report", async () => {
    const state = setup(
      fakeAutomations({
        automations: [automationFixture({ trigger: { kind: "webhook" }, nextRunAt: null })],
        runs: new Map([
          [
            "aut_1",
            [
              runFixture({ id: "run_2", trigger: "webhook", status: "skipped", reason: "condition $.action equals opened did not hold" }),
              runFixture({ id: "run_1", trigger: "webhook", status: "failed", sessionId: "s_9", reportError: "the sink answered 500" }),
            ],
          ],
        ]),
      }),
    );
    renderApp("/automations/aut_1", state);
    const runs = await screen.findByRole("list", { name: "Runs" });
    expect(within(runs).getByText("Skipped").closest("li")).toHaveTextContent("condition $.action equals opened did not hold");
    const failed = within(runs).getByText("Failed").closest("li")!;
    expect(failed).toHaveTextContent("Report failed: the sink answered 500");
    expect(within(failed).getByRole("link", { name: "Open session" })).toHaveAttribute("href", "/sessions/s_9");
  });

  it("pauses with a reason, resumes, and deletes after confirmation", async () => {
    const user = userEvent.setup();
    const state = setup(fakeAutomations({ automations: [automationFixture()] }));
    const app = renderApp("/automations/aut_1", state);
    await user.click(await screen.findByRole("button", { name: "Pause" }));
    expect(await screen.findByText("Paused by Ada Lovelace")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "▶ Run now" })).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Resume" }));
    await waitFor(() => expect(screen.queryByText("Paused by Ada Lovelace")).not.toBeInTheDocument());

    await user.click(screen.getByRole("button", { name: "Delete" }));
    expect(state.automations.automations).toHaveLength(1);
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(app.location()).toBe("/automations"));
    expect(state.automations.automations).toHaveLength(0);
    expect(await screen.findByText("No automations yet")).toBeInTheDocument();
  });

  it("offers no actions to someone who may not change it", async () => {
    const state = setup(fakeAutomations({ automations: [automationFixture({ ownerId: "u_grace", ownerName: "Grace Hopper" })] }));
    state.me = { ...state.me, role: "member" };
    renderApp("/automations/aut_1", state);
    await screen.findByRole("heading", { name: "Nightly dependency check" });
    expect(screen.queryByRole("button", { name: "▶ Run now" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Delete" })).not.toBeInTheDocument();
  });
});
