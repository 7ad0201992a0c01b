import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // One stack per file; files run one after another so sandboxes don't compete for 2 cores.
    fileParallelism: false,
  },
});
