import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { apiClient, createRepoFixture, git, startStack, type Stack } from "@lookout/e2e";
import type { SessionEvent } from "@lookout/protocol";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, newContext, type Browser, type BrowserContext } from "./browser";

/**
 * The dashboard in real Chromium against the real system: `wrangler dev` (Worker, Durable Objects,
 * D1) serving the built app, the sandbox gateway with bubblewrap sandboxes, the bridge, opencode,
 * git and the scripted model. The tests run in order on one stack and one session, as one person
 * (and a second tab) would use it, and take the screenshots the README shows.
 *
 * A test run writes them to the ignored `e2e/.artifacts/screenshots`, so it leaves the checkout as it
 * found it; `pnpm screenshots` points `LOOKOUT_SCREENSHOTS_DIR` at `docs/screenshots` to refresh the
 * committed ones.
 */
const SCREENSHOTS = process.env.LOOKOUT_SCREENSHOTS_DIR ?? fileURLToPath(new URL("./.artifacts/screenshots", import.meta.url));
/** How long a scripted prompt may take end to end on a slow two-core machine. */
const PROMPT_DEADLINE_MS = 150_000;
/** How long a page may take to show what the stack already has. */
const UI_DEADLINE_MS = 20_000;

let stack: Stack;
let api: ReturnType<typeof apiClient>;
let repoPath: string;
let browser: Browser;
let first: BrowserContext;
let second: BrowserContext;
/** The first tab, and a second signed-in tab in another browser profile. */
let page: Page;
let other: Page;
let sessionId = "";
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startStack();
  api = apiClient(stack.url, await stack.login());
  repoPath = createRepoFixture();
  browser = await launchChromium();
  first = await newContext(browser);
  second = await newContext(browser);
  page = await watched(first);
  other = await watched(second);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/**
 * Failed answers the dashboard expects: before signing in, `GET /api/me` answering 401 is how it
 * learns it must ask, and a session without a pull request answers 404 until one is opened.
 */
const EXPECTED_FAILURES = [
  { status: 401, path: /^\/api\/me$/ },
  { status: 404, path: /^\/api\/sessions\/[^/]+\/pull-request$/ },
];

/** A new page whose uncaught errors, console errors and unexpected failed requests fail the run (see the last test). */
async function watched(context: BrowserContext): Promise<Page> {
  const created = await context.newPage();
  created.setDefaultTimeout(UI_DEADLINE_MS);
  created.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  created.on("response", (response) => {
    const { pathname } = new URL(response.url());
    const expected = EXPECTED_FAILURES.some((failure) => failure.status === response.status() && failure.path.test(pathname));
    if (response.status() >= 400 && !expected) problems.push(`${response.request().method()} ${pathname}: ${response.status()}`);
  });
  created.on("console", (message) => {
    // Failed requests are judged above, by address; the console only says that one failed.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) problems.push(`console: ${message.text()}`);
  });
  return created;
}

/** The link the start command prints, optionally with where to land. */
function loginUrl(token: string, next?: string): string {
  const url = new URL("/auth/login", stack.url);
  url.searchParams.set("token", token);
  if (next) url.searchParams.set("next", next);
  return url.toString();
}

async function shot(target: Page, name: string): Promise<void> {
  // Toasts from earlier steps would cover the page.
  await target.evaluate(() =>
    document.querySelectorAll<HTMLButtonElement>('.toast button[aria-label="Dismiss"]').forEach((button) => button.click()),
  );
  await target.locator(".toast").first().waitFor({ state: "detached" });
  await target.evaluate(() => document.fonts.ready);
  await target.screenshot({ path: `${SCREENSHOTS}/${name}.png` });
}

/** The `data-key` of every timeline row (prompt turns, activity rows) and of every tool call, in order. */
async function renderedKeys(target: Page): Promise<{ rows: string[]; tools: string[]; texts: string[] }> {
  return target.evaluate(() => {
    const keys = (selector: string) => [...document.querySelectorAll(selector)].map((element) => element.getAttribute("data-key") ?? "");
    return {
      rows: keys(".timeline .timeline__item[data-key], .timeline .turn__row[data-key]"),
      tools: keys(".timeline .tool[data-key]"),
      texts: keys('.timeline .turn__row[data-key^="text:"]'),
    };
  });
}

/** The `data-key`s of one prompt turn's rows and tool calls, in order. */
async function turnKeys(target: Page, turn: string): Promise<string[]> {
  return target
    .getByRole("article", { name: turn })
    .evaluate((article) =>
      [...article.querySelectorAll(".turn__row[data-key]:not(:has(> .tools)), .tool[data-key]")].map(
        (row) => row.getAttribute("data-key") ?? "",
      ),
    );
}

function expectNoDuplicates(keys: string[]): void {
  expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
}

async function storedEvents(): Promise<SessionEvent[]> {
  const answer = await api<{ events: SessionEvent[] }>("GET", `/api/sessions/${sessionId}/events?after=0&limit=1000`);
  expect(answer.status).toBe(200);
  return answer.json.events;
}

describe("the dashboard on the real stack", () => {
  it("explains a refused login link on the sign-in form, then signs in through the printed login URL", async () => {
    await page.goto(loginUrl("not-the-token"));
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("That login link is not valid");
    expect(new URL(page.url()).search).toBe("");
    await shot(page, "sign-in");

    await page.goto(loginUrl(stack.loginToken));
    await page.getByRole("heading", { name: "Sessions" }).waitFor();
  });

  it("registers the fixture repository in Settings", async () => {
    await page.goto(`${stack.url}/settings/repositories`);
    await page.getByRole("button", { name: "Add repository" }).first().click();
    const form = page.getByRole("form", { name: "Add repository" });
    await form.getByLabel("Path").fill(repoPath);
    await form.getByLabel("Name").fill("fixture");
    await form.getByRole("button", { name: "Add repository" }).click();
    await page.getByRole("list", { name: "Repositories" }).getByText("fixture", { exact: true }).waitFor();
    await shot(page, "settings-repositories");
  });

  it("starts a session from the composer on the fixture repository", async () => {
    await page.goto(`${stack.url}/new`);
    await page.getByLabel("Task").fill("demo");
    await page.getByLabel("Repository").selectOption({ label: "fixture (local)" });
    await shot(page, "composer");
    await page.getByRole("button", { name: /Start session/ }).click();
    await page.waitForURL(/\/sessions\/[A-Za-z0-9_-]+$/);
    sessionId = new URL(page.url()).pathname.split("/").at(-1) ?? "";
    await page.getByRole("heading", { name: "demo" }).waitFor();
    await page.getByRole("article", { name: "Prompt 1 by Admin" }).waitFor();
  });

  it("a second signed-in tab joins the running session and sees the first tab's presence", async () => {
    await other.goto(loginUrl(stack.loginToken, `/sessions/${sessionId}`));
    await other.getByRole("heading", { name: "demo" }).waitFor();
    await other.getByRole("article", { name: "Prompt 1 by Admin" }).waitFor();
    // One person in two tabs: the session counts both connections.
    await other.getByRole("region", { name: "Participants" }).getByText("2 tabs", { exact: false }).waitFor();
    await page.getByRole("region", { name: "Participants" }).getByText("2 tabs", { exact: false }).waitFor();
  });

  it("streams the demo run into the timeline, survives a reload mid-run, and renders each row once", async () => {
    await page.locator(".agent-text", { hasText: "Offline demo model" }).waitFor({ timeout: PROMPT_DEADLINE_MS });
    await page.locator(".timeline .tool").first().waitFor({ timeout: PROMPT_DEADLINE_MS });
    // Reload while the agent works: the page replays the log from the start and carries on live.
    await page.reload();
    await page.locator(".timeline .tool").first().waitFor();
    await page.getByText(/^Committed [0-9a-f]{7} on /).waitFor({ timeout: PROMPT_DEADLINE_MS });
    await page.getByText(/✓ Done/).waitFor({ timeout: PROMPT_DEADLINE_MS });

    const tools = await page.locator(".timeline .tool .tool__name").allTextContents();
    expect(tools).toEqual(["read", "write", "edit", "bash"]);
    const rendered = await renderedKeys(page);
    expectNoDuplicates(rendered.rows);
    expectNoDuplicates(rendered.tools);
    const events = await storedEvents();
    const stored = (type: string) => new Set(events.filter((event) => event.payload.type === type).map((event) => event.key));
    expect(new Set(rendered.tools)).toEqual(stored("tool.call"));
    expect(new Set(rendered.texts)).toEqual(stored("message.text"));

    // The tab that joined mid-run shows the same turn: the same rows, messages and tool calls each
    // in the same order. (How a message interleaves with the tool call after it may differ: a
    // replay gives each row its latest sequence number only, so the reloaded tab places a message
    // still streaming at the reload after a tool call that started meanwhile, while a tab watching
    // live keeps the message first. Sandbox rows after the turn may still be arriving.)
    await other.getByText(/^Committed [0-9a-f]{7} on /).waitFor();
    await other.getByText(/✓ Done/).waitFor();
    const here = await turnKeys(page, "Prompt 1 by Admin");
    const there = await turnKeys(other, "Prompt 1 by Admin");
    expect(new Set(there)).toEqual(new Set(here));
    expect((await renderedKeys(other)).tools).toEqual(rendered.tools);
    expect((await renderedKeys(other)).texts).toEqual(rendered.texts);
    expectNoDuplicates(there);
  });

  it("shows the diff of the change in the Changes tab", async () => {
    await page.getByRole("tab", { name: /Changes/ }).click();
    const diff = page.getByRole("region", { name: "Diff of LOOKOUT_DEMO.md" });
    await diff.locator(".diff__line--add", { hasText: "# Lookout offline demo" }).waitFor();
    expect(await diff.locator(".diff__line--del").count()).toBe(0);
    await page.getByRole("region", { name: "Commits" }).getByText("demo", { exact: true }).waitFor();
    await shot(page, "session-changes");

    // Company for the sessions list: one more session that runs, and one that waits for a task.
    const repositories = await api<{ repositories: Array<{ id: string }> }>("GET", "/api/repositories");
    const repositoryId = repositories.json.repositories[0]?.id;
    const changelog = await api("POST", "/api/sessions", {
      repositoryId,
      title: "Start a changelog",
      prompt: "write file CHANGELOG.md containing ## Unreleased",
    });
    expect(changelog.status).toBe(201);
    expect((await api("POST", "/api/sessions", { repositoryId, title: "Triage the flaky greet test" })).status).toBe(201);
  });

  it("queues a follow-up during a slow stream, cancels it from the queue, reloads mid-stream and stops", async () => {
    await page.getByRole("tab", { name: "Timeline" }).click();
    const box = page.getByLabel("Follow-up prompt");
    await box.fill("slow stream");
    await page.getByRole("button", { name: /^Send/ }).click();
    const turn = page.getByRole("article", { name: "Prompt 2 by Admin" });
    await turn.locator(".agent-text", { hasText: "word3" }).waitFor({ timeout: PROMPT_DEADLINE_MS });

    await box.fill("echo this waits its turn");
    await page.getByRole("button", { name: /^Queue/ }).click();
    const queue = page.getByRole("region", { name: "Queued prompts" });
    await queue.getByText("echo this waits its turn").waitFor();
    await expect.poll(() => box.inputValue()).toBe("");
    await other.getByRole("region", { name: "Queued prompts" }).getByText("echo this waits its turn").waitFor();
    await shot(page, "session");

    await queue.getByRole("button", { name: /Cancel queued prompt/ }).click();
    await queue.waitFor({ state: "detached" });
    await page.getByText("Admin cancelled a queued prompt").waitFor();
    await other.getByRole("region", { name: "Queued prompts" }).waitFor({ state: "detached" });

    // Reload mid-stream: the message is one evolving row, replayed once and still growing.
    await page.reload();
    const streamed = page.getByRole("article", { name: "Prompt 2 by Admin" }).locator(".agent-text");
    await streamed.first().waitFor();
    const lengthAfterReload = (await streamed.first().textContent())?.length ?? 0;
    await expect
      .poll(async () => (await streamed.first().textContent())?.length ?? 0, { timeout: UI_DEADLINE_MS })
      .toBeGreaterThan(lengthAfterReload);
    expect(await streamed.count()).toBe(1);
    expectNoDuplicates((await renderedKeys(page)).rows);

    await page.getByRole("button", { name: /Stop/ }).click();
    await page
      .getByRole("article", { name: "Prompt 2 by Admin" })
      .getByText(/■ Stopped/)
      .waitFor({ timeout: PROMPT_DEADLINE_MS });
    await other
      .getByRole("article", { name: "Prompt 2 by Admin" })
      .getByText(/■ Stopped/)
      .waitFor();
    // The cancelled follow-up never ran.
    expect(await page.getByRole("article", { name: "Prompt 3 by Admin" }).count()).toBe(0);
  });

  it("opens a pull request from the button, shows its review record, and merges it", async () => {
    await page.getByRole("tab", { name: /Pull request/ }).click();
    const form = page.getByRole("form", { name: "Create pull request" });
    await form.getByLabel("Title").fill("Add the offline demo note");
    await form.getByRole("button", { name: "Create pull request" }).click();

    const commits = page.getByRole("region", { name: "Commits" });
    await commits.getByText("demo", { exact: true }).waitFor();
    await expect.poll(() => commits.getByText("Admin", { exact: true }).getAttribute("title")).toBe("Admin <admin@users.lookout.local>");
    const diff = page.getByRole("region", { name: "Diff of LOOKOUT_DEMO.md" });
    await diff.locator(".diff__line--add", { hasText: "# Lookout offline demo" }).waitFor();
    await page.getByRole("heading", { level: 2, name: "Add the offline demo note" }).waitFor();
    await page.getByText(`main ← lookout/${sessionId}`).waitFor();
    await other
      .getByRole("tab", { name: /Pull request/ })
      .getByText("Draft")
      .waitFor();
    await shot(page, "pull-request");

    await page.getByRole("button", { name: "Merge" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Merge" }).click();
    await page.locator(".callout__body", { hasText: /^Merged into main as [0-9a-f]{7}/ }).waitFor();
    await other
      .getByRole("tab", { name: /Pull request/ })
      .getByText("Merged")
      .waitFor();
    expect(git(repoPath, "log", "-1", "--format=%s", "main")).toBe(`Merge lookout/${sessionId}: Add the offline demo note`);
    expect(git(repoPath, "show", "main:LOOKOUT_DEMO.md")).toContain("# Lookout offline demo");
  });

  it("renames the session in place, and the other tab follows", async () => {
    await page.getByRole("button", { name: "Rename session" }).click();
    await page.getByRole("textbox", { name: "Session title" }).fill("Offline demo, end to end");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Offline demo, end to end" }).waitFor();
    await other.getByRole("heading", { level: 1, name: "Offline demo, end to end" }).waitFor();
  });

  it("lists the session, and shows the remaining pages for the docs", async () => {
    await page.goto(`${stack.url}/`);
    await page.locator("[data-session-row]", { hasText: "Offline demo, end to end" }).waitFor();
    await page.locator("[data-session-row]", { hasText: "Triage the flaky greet test" }).getByText("Created").waitFor();
    await page.locator("[data-session-row]", { hasText: "Start a changelog" }).getByText("Idle").waitFor({ timeout: PROMPT_DEADLINE_MS });
    await shot(page, "sessions");

    expect((await api("PUT", "/api/secrets/NPM_TOKEN", { value: "not-a-real-token" })).status).toBe(204);
    await page.goto(`${stack.url}/settings/secrets`);
    await page.getByText("NPM_TOKEN").waitFor();
    await shot(page, "settings-secrets");
    await page.goto(`${stack.url}/settings/models`);
    await page.getByText("scripted/demo").first().waitFor();
    await shot(page, "settings-models");

    const phone = await watched(first);
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${stack.url}/`);
    await phone.locator("[data-session-row]", { hasText: "Offline demo, end to end" }).waitFor();
    await shot(phone, "sessions-phone");
    await phone.goto(`${stack.url}/sessions/${sessionId}`);
    await phone.getByText(/■ Stopped/).waitFor();
    await shot(phone, "session-phone");
    await phone.close();

    await page.emulateMedia({ colorScheme: "dark" });
    await page.goto(`${stack.url}/sessions/${sessionId}`);
    await page.getByText(/■ Stopped/).waitFor();
    await shot(page, "session-dark");
  });

  it("rendered every page without errors", () => {
    expect(problems).toEqual([]);
  });
});
