import { defineConfig } from "vitest/config";

/** Pure session logic, run in Node against `node:sqlite` with a controlled clock. */
export default defineConfig({
  test: {
    include: ["test/**/*.unit.test.ts"],
    environment: "node",
  },
});
