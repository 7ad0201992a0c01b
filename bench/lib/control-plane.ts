import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { copyWranglerConfig, freePort, LOCAL_HOST, startWorker } from "@lookout/dev-stack";
import { REPO_ROOT } from "./paths.ts";

export interface ControlPlaneOptions {
  /** A fresh directory for this instance's config, state and logs. */
  workDir: string;
  /** Where the control plane reaches the sandbox gateway (a fake one or the real one). */
  gatewayUrl: string;
  /** The secret the control plane signs gateway requests with. */
  gatewaySecret: string;
  /** `provider/model` ids offered; the first is the default. */
  models?: readonly string[];
  /** Another Worker entry to run under the root config (a patched copy, to A/B a change). */
  entry?: string;
  /** More secrets for the Worker (e.g. Slack's tokens and a fake Slack's URL). */
  extraSecrets?: Record<string, string>;
}

/** The real control-plane Worker on wrangler's dev server, with its own state, secrets and admin token. */
export interface ControlPlane {
  url: string;
  /** The Worker's process, which leads the process group holding its workerd. */
  pid: number;
  /** The admin login token (`POST /auth/login {token}`). */
  loginToken: string;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts the control plane the way `scripts/start.ts` does (`@lookout/dev-stack`: migrations, then
 * the Worker with no inspector), but isolated: a copy of the root `wrangler.toml` in `workDir` (so
 * wrangler reads no developer's `.dev.vars`), its own persist directory and free ports, and one
 * build of the Worker for the whole run, however the tree changes meanwhile. Static assets are left
 * out: benchmarks only call `/api/*` and `/auth/*`, which the Worker serves either way.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  mkdirSync(options.workDir, { recursive: true });
  const config = copyWranglerConfig(join(REPO_ROOT, "wrangler.toml"), options.workDir, {
    dropSections: ["assets"],
    ...(options.entry ? { main: options.entry } : {}),
  });
  const loginToken = randomBytes(24).toString("base64url");
  const models = options.models ?? ["scripted/demo"];
  const logFile = join(options.workDir, "wrangler.log");
  const port = await freePort();
  const worker = await startWorker({
    name: "control plane",
    config,
    persistTo: join(options.workDir, "state"),
    port,
    migrateD1: ["DB"],
    vars: {
      GATEWAY_URL: options.gatewayUrl,
      PUBLIC_URL: `http://${LOCAL_HOST}:${port}`,
      DEFAULT_MODEL: models[0] ?? "scripted/demo",
      MODELS: models.join(","),
      // Shorter session timings make periodic work (a deadline firing) frequent enough to measure.
      ...(process.env.LOOKOUT_BENCH_LIFECYCLE_OVERRIDES ? { LIFECYCLE_OVERRIDES: process.env.LOOKOUT_BENCH_LIFECYCLE_OVERRIDES } : {}),
    },
    secrets: {
      ADMIN_TOKEN_SHA256: createHash("sha256").update(loginToken).digest("hex"),
      WS_TOKEN_SECRET: randomBytes(32).toString("base64url"),
      SECRETS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`,
      GATEWAY_SERVICE_SECRET: options.gatewaySecret,
      ...options.extraSecrets,
    },
    readyPath: "/api/health",
    logFile,
  });
  return { url: worker.url, pid: worker.pid, loginToken, logFile, stop: () => worker.stop() };
}
