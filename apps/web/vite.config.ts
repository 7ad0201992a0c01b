import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

/** Where `wrangler dev` serves the control plane during local development. */
const CONTROL_PLANE_URL = process.env.LOOKOUT_CONTROL_PLANE_URL ?? "http://127.0.0.1:8787";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      "/api": { target: CONTROL_PLANE_URL, changeOrigin: false, ws: true },
      "/auth": { target: CONTROL_PLANE_URL, changeOrigin: false },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}", "test/**/*.test.{ts,tsx}"],
    setupFiles: ["./test/setup.ts"],
    restoreMocks: true,
    // jsdom with user-event is slow on a busy two-core runner; this is a deadline, not a wait.
    testTimeout: 15_000,
  },
});
