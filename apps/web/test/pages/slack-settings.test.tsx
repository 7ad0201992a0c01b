import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { SlackSettingsView } from "@lookout/protocol";
import { fakeState } from "../fake-api";
import { ACME_WEB } from "../fixtures";
import { renderApp } from "../render-app";

const CONNECTED: SlackSettingsView = {
  configured: true,
  missing: [],
  mode: "socket",
  source: "environment",
  storedCredentials: null,
  workspace: { teamId: "T0ACME", teamName: "Acme", botUserId: "U0BOT", botName: "lookout", connectedAt: 1 },
  threadReplies: "mention",
  channelDefaults: [{ teamId: "T0ACME", channelId: "C0GENERAL", repositoryId: "r_1", updatedAt: 1 }],
};

describe("settings: Slack", () => {
  it("shows the workspace, bot and mode, and sets a channel's default repository", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: [ACME_WEB] });
    state.overrides.set("GET /api/slack/settings", { status: 200, body: { settings: CONNECTED } });
    state.overrides.set("PUT /api/slack/channels/C0RANDOM", { status: 200, body: { settings: CONNECTED } });
    renderApp("/settings/slack", state);
    const connection = await screen.findByRole("list", { name: "Slack connection" });
    expect(connection).toHaveTextContent("Acme");
    expect(connection).toHaveTextContent("bot @lookout");
    expect(connection).toHaveTextContent("Socket Mode (relay)");
    expect(screen.getByRole("list", { name: "Slack channel defaults" })).toHaveTextContent("C0GENERALacme/web");

    const set = screen.getByRole("button", { name: "Set default" });
    expect(set).toBeDisabled();
    await user.type(screen.getByLabelText("Channel id"), "C0RANDOM");
    await user.selectOptions(screen.getByLabelText("Repository"), "r_1");
    await user.click(set);
    expect(await screen.findByText("Saved the channel's default repository")).toBeInTheDocument();
    expect(state.calls.find((call) => call.method === "PUT")?.body).toEqual({ repositoryId: "r_1" });
  });

  it("says what to set while Slack is not connected", async () => {
    const state = fakeState({ repositories: [ACME_WEB] });
    state.overrides.set("GET /api/slack/settings", {
      status: 200,
      body: { settings: { ...CONNECTED, configured: false, missing: ["SLACK_BOT_TOKEN"], workspace: null, channelDefaults: [] } },
    });
    renderApp("/settings/slack", state);
    expect(await screen.findByText("Slack is not connected")).toBeInTheDocument();
    expect(screen.getByText(/or set SLACK_BOT_TOKEN where Lookout runs/)).toBeInTheDocument();
  });

  it("pastes tokens, checks their shape before sending, shows only their last four characters, and removes them", async () => {
    const user = userEvent.setup();
    const state = fakeState({ repositories: [ACME_WEB] });
    const stored: SlackSettingsView = {
      ...CONNECTED,
      source: "dashboard",
      storedCredentials: {
        botTokenLast4: "9abc",
        appTokenLast4: null,
        teamId: "T0ACME",
        teamName: "Acme",
        botName: "lookout",
        updatedAt: 1,
      },
    };
    state.overrides.set("GET /api/slack/settings", {
      status: 200,
      body: { settings: { ...CONNECTED, configured: false, missing: ["SLACK_BOT_TOKEN"], source: null, workspace: null } },
    });
    state.overrides.set("PUT /api/slack/credentials", { status: 200, body: { settings: stored } });
    renderApp("/settings/slack", state);

    const save = await screen.findByRole("button", { name: "Save tokens" });
    await user.type(screen.getByLabelText("Bot token"), "xoxp-user-token-not-a-bot");
    await user.type(screen.getByLabelText("Signing secret"), "0123456789abcdef0123456789abcdef");
    expect(screen.getByRole("alert")).toHaveTextContent("xoxb-");
    expect(save).toBeDisabled();
    await user.clear(screen.getByLabelText("Bot token"));
    await user.type(screen.getByLabelText("Bot token"), "xoxb-1234-5678-secretbot9abc");
    expect(save).toBeEnabled();

    state.overrides.set("GET /api/slack/settings", { status: 200, body: { settings: stored } });
    state.overrides.set("DELETE /api/slack/credentials", { status: 200, body: { settings: { ...stored, storedCredentials: null } } });
    await user.click(save);
    expect(await screen.findByText("Slack accepted the tokens; saved")).toBeInTheDocument();
    expect(state.calls.find((call) => call.method === "PUT")?.body).toEqual({
      botToken: "xoxb-1234-5678-secretbot9abc",
      signingSecret: "0123456789abcdef0123456789abcdef",
    });
    expect(await screen.findByRole("region", { name: "Slack tokens" })).toHaveTextContent("bot token …9abc (Events API)");
    expect(screen.getByLabelText("Bot token")).toHaveValue("");

    await user.click(screen.getByRole("button", { name: "Remove tokens" }));
    expect(await screen.findByText("Removed the Slack tokens")).toBeInTheDocument();
    expect(state.calls.some((call) => call.method === "DELETE" && call.path === "/api/slack/credentials")).toBe(true);
  });
});
