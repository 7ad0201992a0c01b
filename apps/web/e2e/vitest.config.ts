import { defineConfig } from "vitest/config";

/**
 * Browser tests: real Chromium against the real stack (wrangler dev, the sandbox gateway, bubblewrap
 * sandboxes, the bridge, opencode and the scripted model) serving the built dashboard. They build
 * nothing: `npm test` builds `apps/web/dist` and the bridge bundle first, and `preflight` refuses
 * to start without them.
 */
export default defineConfig({
  test: {
    root: new URL("..", import.meta.url).pathname,
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    globalSetup: ["e2e/preflight.ts"],
    // Each test waits on conditions with its own deadlines; these bound a whole step.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // The steps build on each other (one stack, one session): after the first failure the rest
    // would only wait out their deadlines.
    bail: 1,
  },
});
