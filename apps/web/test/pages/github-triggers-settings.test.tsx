import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { GithubTriggerSettingsResponse } from "@lookout/protocol";
import { fakeState } from "../fake-api";
import { ACME_WEB } from "../fixtures";
import { renderApp } from "../render-app";

const DEFAULTS: GithubTriggerSettingsResponse = {
  repositoryId: "r_1",
  repository: "acme/web",
  settings: { enabled: true, allowlist: [], pushPolicy: "child-pull-request", autoReview: false },
  saved: false,
};

describe("settings: GitHub mentions", () => {
  it("saves who may trigger and the push policy for a GitHub repository", async () => {
    const user = userEvent.setup();
    const saved: GithubTriggerSettingsResponse = {
      ...DEFAULTS,
      settings: { enabled: true, allowlist: ["helper", "Ops-Team"], pushPolicy: "direct-push", autoReview: false },
      saved: true,
    };
    const state = fakeState({
      repositories: [ACME_WEB],
      overrides: new Map([
        ["GET /api/github-triggers/r_1", { status: 200, body: DEFAULTS }],
        ["PUT /api/github-triggers/r_1", { status: 200, body: saved }],
      ]),
    });
    renderApp("/settings/github", state);
    const form = await screen.findByRole("form", { name: "GitHub mention settings" });
    expect(form).toHaveTextContent("Defaults apply until you save.");
    await user.type(screen.getByLabelText("Allowlist"), "@helper, Ops-Team");
    await user.click(screen.getByLabelText(/Push to the pull request's branch/));
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(state.calls.find((call) => call.method === "PUT")).toBeDefined());
    expect(state.calls.find((call) => call.method === "PUT")?.body).toEqual(saved.settings);
    expect(await screen.findByText("Saved the GitHub mention settings for acme/web")).toBeInTheDocument();
  });

  it("says what to do when no GitHub repository is registered", async () => {
    renderApp("/settings/github", fakeState({ repositories: [] }));
    expect(await screen.findByText("No GitHub repositories yet")).toBeInTheDocument();
  });
});
