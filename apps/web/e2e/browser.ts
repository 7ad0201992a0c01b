import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext } from "playwright-core";

/** Debian's Chromium; tests never download a browser. */
export const CHROMIUM_PATH = process.env.LOOKOUT_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Flags for a closed network: without the background-networking ones Chromium keeps dialling
 * Google's services and floods the log with refused connections.
 */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The desktop viewport every page starts with. */
export const DESKTOP = { width: 1440, height: 900 } as const;

/** Starts headless Chromium; each `newContext` is a separate, cookie-isolated browser profile. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: install the \`chromium\` package (npm test does) or set LOOKOUT_CHROMIUM.`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

export function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ viewport: DESKTOP, deviceScaleFactor: 1, colorScheme: "light" });
}

export type { Browser, BrowserContext };
