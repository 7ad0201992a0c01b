/**
 * Prepares, once per checkout, the OpenCode config directory the local provider binds read-only into
 * every sandbox (`prepareOpencodeConfig`). The setup script runs this so that no gateway — not
 * `npm start`'s, not a test stack's — pays for the package install while it starts. Idempotent; a
 * failure (no registry) is reported and leaves the gateway to try again or sandboxes to install
 * for themselves.
 *
 *   pnpm exec tsx packages/sandbox/scripts/prepare-opencode-config.ts [dir]
 */
import { join, resolve } from "node:path";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { isOpencodeConfigPrepared, prepareOpencodeConfig } from "../src/local/opencode-config";

const root = resolve(import.meta.dirname, "..", "..", "..");
const dir = process.argv[2] ?? process.env.LOOKOUT_OPENCODE_CONFIG_DIR ?? join(root, ".lookout", "image", "opencode-config");

if (isOpencodeConfigPrepared(dir, SANDBOX_IMAGE)) process.exit(0);
try {
  await prepareOpencodeConfig(dir, SANDBOX_IMAGE);
  process.stdout.write(`prepared ${dir}\n`);
} catch (error) {
  process.stderr.write(`could not prepare ${dir}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
