import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./paths.ts";
import { freePort } from "./processes.ts";
import { applyD1Migrations, copyConfig, HOST, startWranglerDev } from "./wrangler.ts";

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
}

/** The real control-plane Worker under `wrangler dev`, with its own state, secrets and admin token. */
export interface ControlPlane {
  url: string;
  /** The admin login token (`POST /auth/login {token}`). */
  loginToken: string;
  logFile: string;
  /** The DevTools inspector of the Worker and its Durable Objects. */
  inspectorUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts the control plane the way `scripts/start.ts` does, but isolated: a copy of the root
 * `wrangler.toml` in `workDir` (so wrangler reads the `.dev.vars` written next to it, not the
 * developer's), its own persist directory and free ports. Static assets are left out: benchmarks
 * only call `/api/*` and `/auth/*`, which the Worker serves either way.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  mkdirSync(options.workDir, { recursive: true });
  const configPath = copyConfig(join(REPO_ROOT, "wrangler.toml"), options.workDir, {
    dropSections: ["assets"],
    ...(options.entry ? { main: options.entry } : {}),
  });

  const loginToken = randomBytes(24).toString("base64url");
  writeFileSync(
    join(options.workDir, ".dev.vars"),
    [
      `ADMIN_TOKEN_SHA256=${createHash("sha256").update(loginToken).digest("hex")}`,
      `WS_TOKEN_SECRET=${randomBytes(32).toString("base64url")}`,
      `SECRETS_ENCRYPTION_KEYS=k1:${randomBytes(32).toString("base64")}`,
      `GATEWAY_SERVICE_SECRET=${options.gatewaySecret}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );

  const persistTo = join(options.workDir, "state");
  applyD1Migrations(configPath, "DB", persistTo);
  const models = options.models ?? ["scripted/demo"];
  const logFile = join(options.workDir, "wrangler.log");
  const port = await freePort();
  const {
    url,
    inspectorUrl,
    process: child,
  } = await startWranglerDev({
    name: "control plane",
    configPath,
    persistTo,
    logFile,
    port,
    readyPath: "/api/health",
    vars: {
      GATEWAY_URL: options.gatewayUrl,
      PUBLIC_URL: `http://${HOST}:${port}`,
      DEFAULT_MODEL: models[0] ?? "scripted/demo",
      MODELS: models.join(","),
    },
  });
  return { url, loginToken, logFile, inspectorUrl, stop: () => child.stop() };
}
