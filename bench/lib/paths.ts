import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The `bench/` folder. */
export const BENCH_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The monorepo root (where the root `wrangler.toml` lives). */
export const REPO_ROOT = resolve(BENCH_ROOT, "..");
