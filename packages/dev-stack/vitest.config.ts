import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Starting a Worker bundles it and boots workerd: seconds on an idle machine, more on a busy one.
    testTimeout: 60_000,
    hookTimeout: 150_000,
  },
});
