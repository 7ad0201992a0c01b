import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Builds dist/bridge.mjs once before the tests, so they always run the current bundle. */
export default function setup(): void {
  const packageDir = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync(process.execPath, ["build.mjs"], { cwd: packageDir, stdio: "inherit" });
}
