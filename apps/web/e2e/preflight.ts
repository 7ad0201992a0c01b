import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** What the browser tests run against; `npm test` builds both before any test starts. */
const REQUIRED = [
  {
    path: fileURLToPath(new URL("../dist/index.html", import.meta.url)),
    fix: "the dashboard is not built: run `pnpm --filter @lookout/web build`",
  },
  {
    path: fileURLToPath(new URL("../../../packages/bridge/dist/bridge.mjs", import.meta.url)),
    fix: "the sandbox bridge is not bundled: run `pnpm --filter @lookout/bridge build`",
  },
];

/** Vitest global setup: refuses to start, with the command to run, when a build output is missing. */
export default function preflight(): void {
  const missing = REQUIRED.filter((entry) => !existsSync(entry.path));
  if (missing.length > 0) {
    throw new Error(
      `The browser tests need built outputs (npm test builds them; these tests build nothing):\n${missing
        .map((entry) => `  - ${entry.path} is missing: ${entry.fix}`)
        .join("\n")}\nOr build everything with \`pnpm exec turbo run build\`.`,
    );
  }
}
