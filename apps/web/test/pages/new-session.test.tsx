import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Repository } from "@lookout/protocol";
import { fakeState } from "../fake-api";
import { ACME_WEB } from "../fixtures";
import { renderApp } from "../render-app";

const REPOSITORIES: Repository[] = [
  ACME_WEB,
  {
    id: "r_2",
    kind: "local",
    fullName: "tools",
    name: "tools",
    owner: null,
    path: "/src/tools",
    defaultBranch: "main",
    description: null,
    createdAt: 1,
    updatedAt: 1,
  },
];

describe("new session composer", () => {
  it("creates the session with the chosen repository, model and effort on Cmd+Enter, then opens it", async () => {
    const user = userEvent.setup();
    const app = renderApp("/new", fakeState({ repositories: REPOSITORIES }));
    const prompt = await screen.findByLabelText("Task");
    await user.selectOptions(screen.getByLabelText("Repository"), "r_2");
    await user.selectOptions(screen.getByLabelText("Model"), "anthropic/claude-sonnet-4-5");
    await user.selectOptions(screen.getByLabelText("Reasoning"), "high");
    await user.type(prompt, "Add a --json flag to the CLI");
    await user.keyboard("{Meta>}{Enter}{/Meta}");

    await waitFor(() => expect(app.location()).toMatch(/^\/sessions\/s_\d+$/));
    const call = app.state.calls.find((entry) => entry.method === "POST" && entry.path === "/api/sessions");
    expect(call?.body).toMatchObject({
      repositoryId: "r_2",
      model: "anthropic/claude-sonnet-4-5",
      reasoningEffort: "high",
      prompt: "Add a --json flag to the CLI",
      requestId: expect.any(String),
    });
  });

  it("keeps the draft across a reload and sends the same request id when retried", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: REPOSITORIES });
    state.overrides.set("POST /api/sessions", {
      status: 503,
      body: { error: { code: "SANDBOX_UNAVAILABLE", message: "No sandbox could be started for this session." } },
    });
    const first = renderApp("/new", state);
    await user.type(await screen.findByLabelText("Task"), "Upgrade React");
    await user.click(screen.getByRole("button", { name: /Start session/ }));
    expect(await screen.findByText("No sandbox could be started for this session.")).toBeInTheDocument();
    first.unmount();

    state.overrides.clear();
    renderApp("/new", state);
    expect(await screen.findByLabelText("Task")).toHaveValue("Upgrade React");
    await user.click(screen.getByRole("button", { name: /Start session/ }));
    await waitFor(() => expect(state.calls.filter((call) => call.method === "POST" && call.path === "/api/sessions")).toHaveLength(2));
    const [a, b] = state.calls.filter((call) => call.method === "POST" && call.path === "/api/sessions");
    expect((a?.body as { requestId: string }).requestId).toBe((b?.body as { requestId: string }).requestId);
  });

  it("sends nothing while the prompt is empty", async () => {
    renderApp("/new", fakeState({ repositories: REPOSITORIES }));
    expect(await screen.findByRole("button", { name: /Start session/ })).toBeDisabled();
  });

  it("asks to register a repository when there is none", async () => {
    renderApp("/new", fakeState());
    expect(await screen.findByText("Register a repository first")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Add a repository" })).toHaveAttribute("href", "/settings/repositories");
  });
});
