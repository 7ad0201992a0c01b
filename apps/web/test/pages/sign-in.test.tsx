import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeState } from "../fake-api";
import { renderApp } from "../render-app";

describe("signing in", () => {
  it("shows the sign-in form when nobody is signed in, and the API's message for a wrong token", async () => {
    const user = userEvent.setup();
    renderApp("/", fakeState({ signedIn: false }));
    await user.type(await screen.findByLabelText("Login token or URL"), "nope");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The token is invalid or expired. Request a new one.");
  });

  it("accepts a pasted login URL and lands on the page that was asked for", async () => {
    const user = userEvent.setup();
    const app = renderApp("/settings/models", fakeState({ signedIn: false }));
    await user.type(await screen.findByLabelText("Login token or URL"), "http://127.0.0.1:8787/auth/login?token=let-me-in");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Settings" })).toBeInTheDocument();
    expect(app.location()).toBe("/settings/models");
    expect(app.state.calls.find((call) => call.path === "/auth/login")?.body).toEqual({ token: "let-me-in" });
  });

  it("returns to sign-in when the login expires, keeping what the user typed", async () => {
    const user = userEvent.setup();
    const state = fakeState({
      repositories: [
        {
          id: "r_1",
          kind: "local",
          fullName: "web",
          name: "web",
          owner: null,
          path: "/src/web",
          defaultBranch: "main",
          description: null,
          createdAt: 1,
          updatedAt: 1,
        },
      ],
    });
    renderApp("/new", state);
    const prompt = await screen.findByLabelText("Task");
    await user.type(prompt, "Fix the flaky test");
    // The cookie expires; the next request answers 401.
    state.signedIn = false;
    await user.click(screen.getByRole("button", { name: /Start session/ }));
    expect(await screen.findByRole("heading", { name: "Your login expired" })).toBeInTheDocument();

    await user.type(screen.getByLabelText("Login token or URL"), "let-me-in");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByLabelText("Task")).toHaveValue("Fix the flaky test");
  });

  it("offers a retry when the server cannot be reached", async () => {
    const state = fakeState();
    state.overrides.set("GET /api/me", {
      status: 503,
      body: { error: { code: "INTERNAL", message: "Something went wrong on our side. Try again." } },
    });
    renderApp("/", state);
    expect(await screen.findByText("Something went wrong on our side. Try again.")).toBeInTheDocument();
    state.overrides.clear();
    await userEvent.click(screen.getByRole("button", { name: "Retry" }));
    await waitFor(() => expect(screen.getByRole("heading", { name: "Sessions" })).toBeInTheDocument());
  });
});

describe("signing in from a link to the dashboard", () => {
  it("uses ?token= once, removes it from the address bar, and says when it is refused", async () => {
    window.history.replaceState(null, "", "/?token=wrong");
    const state = fakeState({ signedIn: false });
    renderApp("/", state);
    expect(await screen.findByRole("alert")).toHaveTextContent("The token is invalid or expired.");
    expect(window.location.search).toBe("");
    expect(state.calls.filter((call) => call.path === "/auth/login")).toHaveLength(1);
  });

  it("says why a login link was refused when /auth/login sent the browser back with ?login_error=", async () => {
    window.history.replaceState(null, "", "/?login_error=INVALID_TOKEN");
    renderApp("/", fakeState({ signedIn: false }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That login link is not valid (anymore).");
    expect(screen.getByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(window.location.search).toBe("");
  });

  it("names an unknown refusal by its code", async () => {
    window.history.replaceState(null, "", "/?login_error=SOMETHING_NEW");
    renderApp("/", fakeState({ signedIn: false }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The login link was refused (SOMETHING_NEW).");
  });

  it("signs in with a good token before asking who is signed in", async () => {
    window.history.replaceState(null, "", "/?token=let-me-in");
    const state = fakeState({ signedIn: false });
    renderApp("/", state);
    expect(await screen.findByRole("heading", { name: "Sessions" })).toBeInTheDocument();
    expect(state.calls.map((call) => call.path).slice(0, 2)).toEqual(["/auth/login", "/api/me"]);
    window.history.replaceState(null, "", "/");
  });
});
