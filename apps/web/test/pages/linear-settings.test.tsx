import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { LinearSettingsView } from "@lookout/protocol";
import { fakeState } from "../fake-api";
import { ACME_WEB } from "../fixtures";
import { renderApp } from "../render-app";

const SETTINGS: LinearSettingsView = {
  connections: [
    {
      organizationId: "org-acme",
      organizationName: "Acme",
      appUserId: "app-1",
      scopes: ["read", "write", "app:assignable", "app:mentionable"],
      connectedAt: 1,
      expiresAt: null,
    },
  ],
  webhookUrl: "http://lookout.test/api/linear/webhook",
  installUrl: "http://lookout.test/api/linear/install",
  rules: [{ kind: "team", value: "ENG", repositoryId: "r_1" }],
};

describe("settings: Linear", () => {
  it("shows the connected workspace and the webhook URL, and saves the repository rules", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: [ACME_WEB] });
    state.overrides.set("GET /api/linear/settings", { status: 200, body: { settings: SETTINGS } });
    state.overrides.set("PUT /api/linear/mappings", {
      status: 200,
      body: {
        rules: [
          { kind: "team", value: "ENG", repositoryId: "r_1" },
          { kind: "team", value: "OPS", repositoryId: "r_1" },
        ],
      },
    });
    renderApp("/settings/linear", state);
    const workspaces = await screen.findByRole("list", { name: "Connected Linear workspaces" });
    expect(workspaces).toHaveTextContent("Acme");
    expect(screen.getByText("http://lookout.test/api/linear/webhook")).toBeInTheDocument();

    const rules = screen.getByRole("list", { name: "Linear repository rules" });
    expect(within(rules).getByDisplayValue("ENG")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Add rule" }));
    await user.type(screen.getAllByLabelText("Value")[1]!, "OPS");
    await user.click(screen.getByRole("button", { name: "Save rules" }));
    expect(await screen.findByText("Saved the Linear rules")).toBeInTheDocument();
    expect(state.calls.find((call) => call.method === "PUT")?.body).toEqual({
      rules: [
        { kind: "team", value: "ENG", repositoryId: "r_1" },
        { kind: "team", value: "OPS", repositoryId: "r_1" },
      ],
    });
  });

  it("offers to connect when no workspace is connected", async () => {
    const state = fakeState({ repositories: [ACME_WEB] });
    state.overrides.set("GET /api/linear/settings", { status: 200, body: { settings: { ...SETTINGS, connections: [], rules: [] } } });
    renderApp("/settings/linear", state);
    expect(await screen.findByRole("link", { name: "Connect Linear" })).toHaveAttribute("href", "http://lookout.test/api/linear/install");
  });
});
