import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { apiClient, createRepoFixture, type Stack, startStack } from "@lookout/e2e";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, type Browser, type BrowserContext } from "./browser";

/**
 * Settings → Warm pool in real Chromium on the real stack: an admin gives a local repository a pool
 * of one, the page shows it starting and then warm (cloned, set up, OpenCode running in a real
 * bubblewrap sandbox), with the cap on running sandboxes.
 */
const SCREENSHOTS = process.env.LOOKOUT_SCREENSHOTS_DIR ?? fileURLToPath(new URL("./.artifacts/screenshots", import.meta.url));
const UI_DEADLINE_MS = 20_000;
/** Cloning, the setup script and OpenCode's start in a real sandbox on a loaded machine. */
const WARM_DEADLINE_MS = 120_000;

let stack: Stack;
/** The stack while it starts, so `afterAll` stops it even when the start outlived the hook. */
let starting: Promise<Stack> | undefined;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  starting = startStack({ gatewayEnv: { LOOKOUT_POOL: "on", LOOKOUT_POOL_TICK_MS: "500" } });
  stack = await starting;
  const cookie = await stack.login();
  const repo = createRepoFixture({ ".lookout/setup.sh": 'echo "installing"\n' });
  const created = await apiClient(stack.url, cookie)("POST", "/api/repositories", { kind: "local", path: repo, name: "pooled-app" });
  expect(created.status).toBe(201);
  browser = await launchChromium();
  context = await newContext(browser);
  page = await context.newPage();
  page.setDefaultTimeout(UI_DEADLINE_MS);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // Starting the whole stack on a loaded 2-core machine has taken over 2 minutes.
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await (stack ?? (await starting?.catch(() => undefined)))?.stop();
});

describe("Settings → Warm pool on the real stack", () => {
  it("sizes a repository's pool and shows its sandbox warm, with the cap", async () => {
    const login = new URL("/auth/login", stack.url);
    login.searchParams.set("token", stack.loginToken);
    login.searchParams.set("next", "/settings/pool");
    await page.goto(login.toString());
    // Nobody used it and nobody sized it yet: listed with nothing pooled.
    await page.getByText("Not used in the last day · asks for 0").waitFor();
    const size = page.getByLabel("Pool size for pooled-app");
    await size.selectOption("1");
    await page.getByText("Pool size set to 1").waitFor();

    const pool = page.getByLabel("Pool of pooled-app");
    await pool.getByText(/1 warm/).waitFor({ timeout: WARM_DEADLINE_MS });
    await page
      .getByLabel("Running sandboxes")
      .getByText(/of at most/)
      .waitFor();
    expect(await page.getByLabel("Running sandboxes").textContent()).toMatch(/Running sandboxes: 1 of at most 32/);
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: `${SCREENSHOTS}/settings-warm-pool.png` });
    expect(problems).toEqual([]);
  });
});
