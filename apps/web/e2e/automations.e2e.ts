import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { apiClient, createRepoFixture, startStack, type Stack } from "@lookout/e2e";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, type Browser, type BrowserContext } from "./browser";

/**
 * Automations in real Chromium on the real stack (wrangler dev with D1 and the scheduler object,
 * the gateway's bubblewrap sandboxes, OpenCode and the scripted model): a scheduled automation and
 * a webhook automation made through the forms, the webhook's key shown once and its conditions
 * tested, "Run now" leading to a run in the history whose session completes and shows where it came
 * from, and a real delivery that fails a condition recorded as skipped with the reason.
 */
const SCREENSHOTS = process.env.LOOKOUT_SCREENSHOTS_DIR ?? fileURLToPath(new URL("./.artifacts/screenshots", import.meta.url));
/** How long a run may take from "Run now" to its session's settled prompt on a slow two-core machine. */
const RUN_DEADLINE_MS = 150_000;
/** How long a page may take to show what the stack already has (the run history refreshes every 5 s). */
const UI_DEADLINE_MS = 20_000;
const CRON_NAME = "Half-hourly tidy-up";
const WEBHOOK_NAME = "Ticket opened";

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cronPath = "";
let webhookUrl = "";
let webhookKey = "";
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startStack();
  const api = apiClient(stack.url, await stack.login());
  const registered = await api("POST", "/api/repositories", { kind: "local", path: createRepoFixture(), name: "fixture" });
  expect(registered.status).toBe(201);
  browser = await launchChromium();
  context = await newContext(browser);
  page = await context.newPage();
  page.setDefaultTimeout(UI_DEADLINE_MS);
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.request().method()} ${new URL(response.url()).pathname}: ${response.status()}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) problems.push(`console: ${message.text()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function shot(name: string): Promise<void> {
  await page.evaluate(() =>
    document.querySelectorAll<HTMLButtonElement>('.toast button[aria-label="Dismiss"]').forEach((button) => button.click()),
  );
  await page.locator(".toast").first().waitFor({ state: "detached" });
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png` });
}

describe("automations in the dashboard on the real stack", () => {
  it("creates a scheduled automation through the form, with the next runs previewed in its time zone", async () => {
    const login = new URL("/auth/login", stack.url);
    login.searchParams.set("token", stack.loginToken);
    login.searchParams.set("next", "/automations");
    await page.goto(login.toString());
    await page.getByText("No automations yet").waitFor();
    await page.getByRole("link", { name: "New automation" }).click();

    await page.getByLabel("Name").fill(CRON_NAME);
    await page.getByLabel("Instructions").fill("echo tidy-up ran from the dashboard");
    await page.getByLabel("Cron expression").fill("*/30 * * * *");
    await page.getByLabel("Time zone").selectOption("Europe/Berlin");
    const preview = page.getByRole("region", { name: "Next runs" });
    // The preview is the server's answer for this expression: five slots half an hour apart.
    await expect
      .poll(() => preview.locator("time").evaluateAll((times) => times.map((time) => Date.parse(time.getAttribute("datetime") ?? ""))), {
        timeout: UI_DEADLINE_MS,
      })
      .toSatisfy(
        (slots: number[]) => slots.length === 5 && slots.every((at, index) => index === 0 || at - slots[index - 1]! === 30 * 60_000),
      );
    await shot("automation-new");

    await page.getByRole("button", { name: "Create automation" }).click();
    await page.getByRole("heading", { level: 1, name: CRON_NAME }).waitFor();
    cronPath = new URL(page.url()).pathname;
    await page.getByText("Schedule · */30 * * * * (Europe/Berlin)").waitFor();
    await page.getByText("No runs yet").waitFor();
  });

  it("runs it now: the run shows in the history, settles, and its session says it came from the automation", async () => {
    await page.getByRole("button", { name: "▶ Run now" }).click();
    const runs = page.getByRole("list", { name: "Runs" });
    const run = runs.locator("li", { hasText: "Run now" }).first();
    await run.waitFor();
    await run.locator('[data-run-status="succeeded"]').waitFor({ timeout: RUN_DEADLINE_MS });
    await shot("automation-runs");

    await run.getByRole("link", { name: "Open session" }).click();
    await page.waitForURL(/\/sessions\/[A-Za-z0-9_-]+$/);
    const origin = page.locator(".session__facts").getByRole("link", { name: `Automation “${CRON_NAME}”` });
    await origin.waitFor();
    await page.getByText("tidy-up ran from the dashboard").first().waitFor();

    await page.goto(`${stack.url}/`);
    await page.locator("[data-session-row]").first().getByText(`Automation “${CRON_NAME}”`).waitFor();
    await page.locator("[data-session-row]").first().click();
    await page
      .locator(".session__facts")
      .getByRole("link", { name: `Automation “${CRON_NAME}”` })
      .click();
    await page.waitForURL((url) => url.pathname === cronPath);
  });

  it("creates a webhook automation: its key is shown once, and a sample payload shows which conditions match", async () => {
    await page.goto(`${stack.url}/automations/new`);
    await page.getByLabel("Name").fill(WEBHOOK_NAME);
    await page.getByLabel("Instructions").fill("echo webhook handled");
    await page
      .getByRole("group", { name: "Trigger type" })
      .getByRole("button", { name: /Webhook/ })
      .click();
    await page.getByRole("button", { name: "Create automation" }).click();

    const keyBox = page.getByRole("status", { name: "New webhook key" });
    webhookKey = (await keyBox.locator("[data-webhook-key]").textContent())?.trim() ?? "";
    expect(webhookKey.length).toBeGreaterThan(20);
    webhookUrl = (await page.locator(".webhook__url").first().textContent())?.trim() ?? "";
    expect(webhookUrl).toMatch(/\/api\/triggers\/webhooks\/[A-Za-z0-9_-]+$/);

    await page.getByRole("button", { name: "+ Add condition" }).click();
    await page.getByLabel("Condition 1 path").fill("$.action");
    await page.getByLabel("Condition 1 value").fill("opened");
    await page.getByRole("button", { name: "Save webhook settings" }).click();
    await page.getByRole("button", { name: "Save webhook settings" }).and(page.locator(":disabled")).waitFor();

    const payload = page.getByLabel("Sample payload (JSON)");
    await payload.fill('{"action": "opened", "ticket": {"id": 7}}');
    await page.getByRole("button", { name: "Test payload" }).click();
    const result = page.getByRole("status", { name: "Test result" });
    await result.getByText("A delivery like this starts a run").waitFor();
    await result.getByText("✓ matched").waitFor();
    await page.getByRole("region", { name: "Webhook URL and key" }).scrollIntoViewIfNeeded();
    await shot("automation-webhook");

    await payload.fill('{"action": "closed"}');
    await page.getByRole("button", { name: "Test payload" }).click();
    await result.getByText("A delivery like this starts nothing").waitFor();
    await result.getByText("✗ no match").waitFor();

    // Shown once: coming back to the page shows that a key exists, not the key.
    await page.reload();
    await page.getByText(/A key was issued/).waitFor();
    expect(await page.getByRole("status", { name: "New webhook key" }).count()).toBe(0);
  });

  it("a delivery that fails a condition starts nothing and the run history says why", async () => {
    const delivered = await fetch(webhookUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "x-lookout-webhook-key": webhookKey },
      body: JSON.stringify({ action: "closed" }),
    });
    expect(delivered.status).toBe(202);
    const skipped = page.getByRole("list", { name: "Runs" }).locator("li", { hasText: "Skipped" });
    await skipped.waitFor();
    expect(await skipped.textContent()).toContain("$.action");
    expect(await skipped.getByRole("link", { name: "Open session" }).count()).toBe(0);
  });

  it("lists both automations with their trigger, next run and last result", async () => {
    await page.goto(`${stack.url}/automations`);
    const cron = page.locator(`[data-automation-row="${CRON_NAME}"]`);
    await cron.getByText("Active").waitFor();
    await cron.getByText(/^next in /).waitFor();
    await cron.locator('[data-run-status="succeeded"]').waitFor();
    const webhook = page.locator(`[data-automation-row="${WEBHOOK_NAME}"]`);
    await webhook.getByText("Webhook").waitFor();
    await webhook.locator('[data-run-status="skipped"]').waitFor();
    await shot("automations");
  });

  it("rendered every page without errors", () => {
    expect(problems).toEqual([]);
  });
});
