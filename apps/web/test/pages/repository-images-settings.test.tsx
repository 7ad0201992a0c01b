import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Repository, RepositoryImage, RepositoryImagesResponse } from "@lookout/protocol";
import { fakeState } from "../fake-api";
import { renderApp } from "../render-app";

const LOCAL_REPO: Repository = {
  id: "r_local",
  kind: "local",
  fullName: "demo",
  name: "demo",
  owner: null,
  path: "/srv/demo",
  defaultBranch: "main",
  description: null,
  createdAt: 1,
  updatedAt: 1,
};

function image(overrides: Partial<RepositoryImage>): RepositoryImage {
  return {
    id: "img_1",
    repositoryId: "r_local",
    baseBranch: "main",
    baseSha: "a".repeat(40),
    snapshotId: "snap_1",
    status: "ready",
    trigger: "schedule",
    requestedBy: null,
    startedAt: Date.now() - 60_000,
    finishedAt: Date.now() - 50_000,
    durationMs: 10_000,
    error: null,
    output: null,
    ...overrides,
  };
}

const HISTORY: RepositoryImagesResponse = {
  rebuildIntervalMs: 30 * 60_000,
  images: [
    image({
      id: "img_2",
      status: "failed",
      snapshotId: null,
      baseSha: null,
      error: ".lookout/setup.sh exited with code 3 after 1200 ms",
      output: "npm ERR! missing peer dependency",
    }),
    image({ id: "img_1" }),
  ],
};

describe("settings: repository images", () => {
  it("shows which image sessions start from, a failed build with its setup output, and builds now", async () => {
    const user = userEvent.setup();
    const state = fakeState({
      repositories: [LOCAL_REPO],
      overrides: new Map([
        ["GET /api/repositories/r_local/images", { status: 200, body: HISTORY }],
        ["POST /api/repositories/r_local/images", { status: 202, body: image({ id: "img_3", status: "building", trigger: "admin" }) }],
      ]),
    });
    renderApp("/settings/images", state);
    const builds = await screen.findByRole("list", { name: "Image builds" });
    expect(screen.getByLabelText("Current image")).toHaveTextContent(`Sessions start from the image of ${"a".repeat(12)}`);
    const failed = within(builds).getAllByRole("listitem")[0]!;
    expect(failed).toHaveTextContent("Failed");
    expect(failed).toHaveTextContent(".lookout/setup.sh exited with code 3");
    expect(within(failed).getByText("npm ERR! missing peer dependency")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Build now" }));
    await waitFor(() => expect(state.calls.find((call) => call.method === "POST")).toBeDefined());
    expect(await screen.findByText("Building the image")).toBeInTheDocument();
  });

  it("says what to do when no repository is registered", async () => {
    renderApp("/settings/images", fakeState({ repositories: [] }));
    expect(await screen.findByText("No repositories yet")).toBeInTheDocument();
  });

  it("offers GitHub repositories too, whose images are built with a read-only token", async () => {
    const github: Repository = {
      ...LOCAL_REPO,
      id: "r_github",
      kind: "github",
      fullName: "acme/app",
      name: "app",
      owner: "acme",
      path: null,
    };
    renderApp(
      "/settings/images",
      fakeState({
        repositories: [LOCAL_REPO, github],
        overrides: new Map([
          ["GET /api/repositories/r_local/images", { status: 200, body: { images: [], rebuildIntervalMs: 1_800_000 } }],
          ["GET /api/repositories/r_github/images", { status: 200, body: { images: [], rebuildIntervalMs: 1_800_000 } }],
        ]),
      }),
    );
    const user = userEvent.setup();
    const select = await screen.findByRole("combobox", { name: "Repository" });
    expect(within(select).getByRole("option", { name: "acme/app" })).toBeInTheDocument();
    await user.selectOptions(select, "r_github");
    expect(select).toHaveValue("r_github");
  });
});
