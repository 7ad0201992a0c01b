import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Stack, startStack } from "@lookout/e2e";
import { FAKE_SLACK_TEAM, FAKE_SLACK_TOKENS, type FakeSlack, startFakeSlack } from "@lookout/e2e/fake-slack";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, type Browser, type BrowserContext } from "./browser";

/**
 * Settings → Slack in real Chromium on the real stack, with no Slack token in the Worker's
 * environment and a fake Slack behind `SLACK_API_URL`: a token of the wrong shape is caught in the
 * form, a token Slack refuses comes back as Slack's refusal, the right tokens connect the workspace
 * and only their last four characters are shown, and removing them disconnects Slack again.
 */
const SCREENSHOTS = process.env.LOOKOUT_SCREENSHOTS_DIR ?? fileURLToPath(new URL("./.artifacts/screenshots", import.meta.url));
const UI_DEADLINE_MS = 20_000;
const SIGNING_SECRET = "0123456789abcdef0123456789abcdef";

let slack: FakeSlack;
let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  slack = await startFakeSlack();
  // The relay's secret is set, as the start command sets it, so pasted Socket Mode tokens are complete.
  stack = await startStack({ vars: { SLACK_API_URL: slack.apiUrl, SERVICE_SECRET_SLACK_RELAY: "browser-test-relay-secret" } });
  browser = await launchChromium();
  context = await newContext(browser);
  page = await context.newPage();
  page.setDefaultTimeout(UI_DEADLINE_MS);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await slack?.close();
});

describe("Settings → Slack on the real stack", () => {
  it("pastes, checks, shows and removes the tokens", async () => {
    const login = new URL("/auth/login", stack.url);
    login.searchParams.set("token", stack.loginToken);
    login.searchParams.set("next", "/settings/slack");
    await page.goto(login.toString());
    await page.getByText("Slack is not connected").waitFor();

    const tokens = page.getByRole("region", { name: "Slack tokens" });
    const save = tokens.getByRole("button", { name: "Save tokens" });
    await page.getByLabel("Bot token").fill("xoxp-a-user-token-not-the-bot");
    await page.getByLabel("Signing secret").fill(SIGNING_SECRET);
    await tokens.getByRole("alert").filter({ hasText: "xoxb-" }).waitFor();
    expect(await save.isDisabled()).toBe(true);

    // The right shape, but a token Slack does not know: Slack's refusal is shown and nothing is stored.
    await page.getByLabel("Bot token").fill("xoxb-0000-not-a-token-slack-issued");
    await save.click();
    await page.getByText(/Slack refused the bot token \(auth\.test answered invalid_auth\)/).waitFor();
    await page.getByText("Slack is not connected").waitFor();

    await page.getByLabel("Bot token").fill(FAKE_SLACK_TOKENS.bot);
    await page.getByLabel("App-level token (Socket Mode, optional)").fill(FAKE_SLACK_TOKENS.app);
    await save.click();
    await page.getByText("Slack accepted the tokens; saved").waitFor();
    const connection = page.getByRole("list", { name: "Slack connection" });
    await connection.getByText(FAKE_SLACK_TEAM.name).waitFor();
    await connection.getByText(/Socket Mode \(relay\) · tokens from the dashboard/).waitFor();
    await tokens
      .getByText(`bot token …${FAKE_SLACK_TOKENS.bot.slice(-4)}, app-level token …${FAKE_SLACK_TOKENS.app.slice(-4)} (Socket Mode)`)
      .waitFor();
    expect(await page.getByLabel("Bot token").inputValue()).toBe("");
    const html = await page.content();
    for (const secret of [FAKE_SLACK_TOKENS.bot, FAKE_SLACK_TOKENS.app, SIGNING_SECRET]) expect(html).not.toContain(secret);
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: `${SCREENSHOTS}/settings-slack-tokens.png` });

    await tokens.getByRole("button", { name: "Remove tokens" }).click();
    await page.getByText("Removed the Slack tokens").waitFor();
    await page.getByText("Slack is not connected").waitFor();
    expect(problems).toEqual([]);
  });
});
