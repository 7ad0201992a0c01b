import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { summary } from "../fixtures";
import { fakeState } from "../fake-api";
import { renderApp } from "../render-app";

describe("app shell", () => {
  it("Ctrl+K finds a session by title and opens it", async () => {
    const user = userEvent.setup();
    const state = fakeState({ sessions: [summary({ id: "s_1", title: "Fix login" }), summary({ id: "s_2", title: "Dark mode" })] });
    const app = renderApp("/settings/models", state);
    await screen.findByRole("heading", { name: "Settings" });
    await user.keyboard("{Control>}k{/Control}");
    const dialog = await screen.findByRole("dialog", { name: "Go to" });
    await user.type(within(dialog).getByRole("combobox"), "dark");
    await waitFor(() => expect(within(dialog).getAllByRole("option")[0]).toHaveTextContent("Dark mode"));
    await user.keyboard("{Enter}");
    await waitFor(() => expect(app.location()).toBe("/sessions/s_2"));
  });

  it("the palette also goes to pages", async () => {
    const user = userEvent.setup();
    const app = renderApp("/", fakeState());
    await screen.findByRole("heading", { name: "Sessions" });
    await user.keyboard("{Control>}k{/Control}");
    const dialog = await screen.findByRole("dialog", { name: "Go to" });
    await user.type(within(dialog).getByRole("combobox"), "secrets");
    await user.keyboard("{Enter}");
    await waitFor(() => expect(app.location()).toBe("/settings/secrets"));
  });

  it("g then , goes to settings, and the page names the tab", async () => {
    const user = userEvent.setup();
    const app = renderApp("/", fakeState());
    await screen.findByRole("heading", { name: "Sessions" });
    await waitFor(() => expect(document.title).toBe("Sessions · Lookout"));
    await user.keyboard("g,");
    await waitFor(() => expect(app.location()).toBe("/settings/repositories"));
    await waitFor(() => expect(document.title).toBe("Settings: Repositories · Lookout"));
  });

  it("signs out", async () => {
    const user = userEvent.setup();
    const app = renderApp("/", fakeState());
    await user.click(await screen.findByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(app.state.calls.some((call) => call.path === "/auth/logout")).toBe(true);
  });
});
