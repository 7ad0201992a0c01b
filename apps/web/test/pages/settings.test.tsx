import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Repository } from "@lookout/protocol";
import { fakeState } from "../fake-api";
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

describe("settings: repositories", () => {
  it("registers a local repository, naming it after its folder", async () => {
    const user = userEvent.setup();
    const app = renderApp("/settings/repositories", fakeState());
    await user.click((await screen.findAllByRole("button", { name: "Add repository" }))[0]!);
    await user.type(screen.getByLabelText("Path"), "/home/ada/code/engine");
    const form = screen.getByRole("form", { name: "Add repository" });
    await user.click(within(form).getByRole("button", { name: "Add repository" }));
    const list = await screen.findByRole("list", { name: "Repositories" });
    expect(list).toHaveTextContent("engine");
    expect(app.state.calls.find((call) => call.method === "POST")?.body).toEqual({
      kind: "local",
      path: "/home/ada/code/engine",
      name: "engine",
      defaultBranch: "main",
    });
  });

  it("registers a GitHub repository from its URL", async () => {
    const user = userEvent.setup();
    const app = renderApp("/settings/repositories", fakeState());
    await user.click((await screen.findAllByRole("button", { name: "Add repository" }))[0]!);
    await user.click(screen.getByRole("button", { name: "GitHub" }));
    await user.type(screen.getByLabelText("Repository"), "https://github.com/acme/web.git");
    await user.click(within(screen.getByRole("form", { name: "Add repository" })).getByRole("button", { name: "Add repository" }));
    expect(await screen.findByText("acme/web")).toBeInTheDocument();
    expect(app.state.calls.find((call) => call.method === "POST")?.body).toMatchObject({ kind: "github", owner: "acme", name: "web" });
  });

  it("checks fields before sending and shows the server's refusal", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: [REPO] });
    renderApp("/settings/repositories", state);
    await user.click(await screen.findByRole("button", { name: "Add repository" }));
    const form = screen.getByRole("form", { name: "Add repository" });
    await user.type(screen.getByLabelText("Path"), "relative/path");
    await user.click(within(form).getByRole("button", { name: "Add repository" }));
    expect(screen.getByLabelText("Path")).toHaveAttribute("aria-invalid", "true");
    expect(state.calls.filter((call) => call.method === "POST")).toHaveLength(0);

    await user.clear(screen.getByLabelText("Path"));
    await user.type(screen.getByLabelText("Path"), "/elsewhere/tools");
    await user.click(within(form).getByRole("button", { name: "Add repository" }));
    expect(await screen.findByText("A repository with this name is already registered.")).toBeInTheDocument();
  });

  it("edits and removes a repository", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: [REPO] });
    renderApp("/settings/repositories", state);
    await user.click(await screen.findByRole("button", { name: "Edit" }));
    await user.clear(screen.getByLabelText("Default branch"));
    await user.type(screen.getByLabelText("Default branch"), "develop");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(state.calls.find((call) => call.method === "PATCH")?.body).toEqual({ defaultBranch: "develop" }));
    expect(await screen.findByText("develop")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Remove tools" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove" }));
    expect(await screen.findByText("No repositories yet")).toBeInTheDocument();
  });
});

describe("settings: secrets", () => {
  it("sets and deletes a global secret, showing names only", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: [REPO] });
    renderApp("/settings/secrets", state);
    expect(await screen.findByText("No secrets here")).toBeInTheDocument();
    await user.type(screen.getByLabelText("Name"), "npm_token");
    await user.type(screen.getByLabelText("Value"), "s3cret");
    await user.click(screen.getByRole("button", { name: "Save secret" }));
    const list = await screen.findByRole("list", { name: "Secrets" });
    expect(list).toHaveTextContent("NPM_TOKEN");
    expect(list).not.toHaveTextContent("s3cret");
    expect(state.calls.find((call) => call.method === "PUT")).toMatchObject({ path: "/api/secrets/NPM_TOKEN", body: { value: "s3cret" } });

    await user.click(screen.getByRole("button", { name: "Delete NPM_TOKEN" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Delete" }));
    expect(await screen.findByText("No secrets here")).toBeInTheDocument();
  });

  it("scopes secrets to a repository and imports a .env file", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: [REPO] });
    renderApp("/settings/secrets", state);
    await screen.findByRole("option", { name: "tools" });
    await user.selectOptions(screen.getByLabelText("Secret scope"), "r_1");
    await user.click(screen.getByRole("button", { name: /Import from a .env file/ }));
    await user.type(screen.getByLabelText(".env contents"), "A_KEY=1{enter}B_KEY='two'");
    await user.click(screen.getByRole("button", { name: "Import 2" }));
    const list = await screen.findByRole("list", { name: "Secrets" });
    await waitFor(() => expect(list).toHaveTextContent("B_KEY"));
    expect(state.calls.filter((call) => call.method === "PUT").map((call) => call.path)).toEqual([
      "/api/repositories/r_1/secrets/A_KEY",
      "/api/repositories/r_1/secrets/B_KEY",
    ]);
  });

  it("rejects a name that is not an environment variable name", async () => {
    const user = userEvent.setup();
    const state = fakeState();
    renderApp("/settings/secrets", state);
    await user.type(await screen.findByLabelText("Name"), "1BAD-NAME");
    await user.type(screen.getByLabelText("Value"), "x");
    await user.click(screen.getByRole("button", { name: "Save secret" }));
    expect(screen.getByLabelText("Name")).toHaveAttribute("aria-invalid", "true");
    expect(state.calls.filter((call) => call.method === "PUT")).toHaveLength(0);
  });
});

describe("settings: models", () => {
  it("lists models and marks the default and the offline demo", async () => {
    renderApp("/settings/models", fakeState());
    const list = await screen.findByRole("list", { name: "Models" });
    const [demo, claude] = within(list).getAllByRole("listitem");
    expect(demo).toHaveTextContent("Offline demo");
    expect(demo).toHaveTextContent("Default");
    expect(claude).toHaveTextContent("anthropic/claude-sonnet-4-5");
    expect(claude).not.toHaveTextContent("Default");
  });
});
