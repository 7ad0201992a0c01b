import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { launchChromium, type LaunchedBrowser } from "./browser";
import { DEMO_PRESENCE, demoState } from "./demo-data";
import { startFakeServer, type FakeServer } from "./fake-server";

/**
 * Runs the built dashboard in Chromium against the fake API and saves screenshots of the main
 * pages into docs/screenshots. It also checks each page renders its key content without errors.
 */
const DIST = fileURLToPath(new URL("../dist", import.meta.url));
const OUT = process.env.LOOKOUT_SCREENSHOTS_DIR ?? fileURLToPath(new URL("../../../docs/screenshots", import.meta.url));

let server: FakeServer;
let browser: LaunchedBrowser;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(`${DIST}/index.html`)) throw new Error("apps/web/dist is missing: run `pnpm build` first.");
  mkdirSync(OUT, { recursive: true });
  const state = demoState();
  state.signedIn = false;
  server = await startFakeServer(DIST, state);
  server.presence.set("s_login", DEMO_PRESENCE);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(path: string, viewport = { width: 1440, height: 900 }): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  page.on("pageerror", (error) => pageErrors.push(`${path}: ${error.message}`));
  page.on("console", (message) => {
    // Before signing in, `GET /api/me` answering 401 is how the page learns it must ask.
    if (message.type() === "error" && !/status of 401/.test(message.text())) pageErrors.push(`${path}: ${message.text()}`);
  });
  await page.goto(server.url + path);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  // Let fonts settle and the stream pin itself to the bottom.
  await page.waitForTimeout(150);
  await page.screenshot({ path: `${OUT}/${name}.png` });
}

describe("dashboard screenshots", () => {
  it("signs in through the login URL", async () => {
    const page = await open("/");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await shot(page, "sign-in");
    await page.goto(`${server.url}/auth/login?token=let-me-in`);
    await page.getByRole("heading", { name: "Sessions" }).waitFor();
    await page.close();
  });

  it("sessions list", async () => {
    const page = await open("/");
    await page.getByText("Make login survive flaky networks").waitFor();
    expect(await page.locator("[data-session-row]").count()).toBe(6);
    await shot(page, "sessions");
    await page.close();
  });

  it("new session composer", async () => {
    const page = await open("/new");
    const prompt = page.getByLabel("Task");
    await prompt.fill(
      "Add rate limiting to the public /v2/search endpoint: 60 requests per minute per API key, with a Retry-After header and tests.",
    );
    await page.getByLabel("Repository").selectOption("r_api");
    await shot(page, "composer");
    await page.close();
  });

  it("session view, live", async () => {
    const page = await open("/sessions/s_login");
    await page.getByText("All 6 login tests pass").waitFor();
    await page.getByText("Grace Hopper is typing").waitFor();
    await page.getByText("Live", { exact: true }).waitFor();
    await shot(page, "session");
    await page.close();
  });

  it("session changes tab", async () => {
    const page = await open("/sessions/s_login?tab=changes");
    await page.getByRole("region", { name: "Diff of src/auth/retry.ts" }).waitFor();
    await shot(page, "session-changes");
    await page.close();
  });

  it("settings", async () => {
    const page = await open("/settings/repositories");
    await page.getByText("acme/web").first().waitFor();
    await shot(page, "settings-repositories");
    await page.goto(`${server.url}/settings/secrets`);
    await page.getByText("NPM_TOKEN").waitFor();
    await shot(page, "settings-secrets");
    await page.goto(`${server.url}/settings/models`);
    await page.getByText("Claude Sonnet 4.5").waitFor();
    await shot(page, "settings-models");
    await page.close();
  });

  it("phone layout", async () => {
    const phone = { width: 390, height: 844 };
    const list = await open("/", phone);
    await list.getByText("Make login survive flaky networks").waitFor();
    await shot(list, "sessions-phone");
    await list.close();
    const session = await open("/sessions/s_login", phone);
    await session.getByText("All 6 login tests pass").waitFor();
    await shot(session, "session-phone");
    await session.close();
  });

  it("dark mode", async () => {
    const page = await open("/sessions/s_login");
    await page.emulateMedia({ colorScheme: "dark" });
    await page.getByText("All 6 login tests pass").waitFor();
    await shot(page, "session-dark");
    await page.close();
  });

  it("rendered without errors", () => {
    expect(pageErrors).toEqual([]);
  });
});
