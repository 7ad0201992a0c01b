import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PROVIDER_NAMES } from "@lookout/sandbox";
import { LookoutError, ModelRef } from "@lookout/protocol";
import { z } from "zod";
import { loadPoolSettings, type PoolSettings } from "./pool/settings";

export const DEFAULT_GATEWAY_PORT = 8788;
export const DEFAULT_GATEWAY_HOST = "127.0.0.1";
/** Sandboxes one gateway runs at most, whoever asks (`LOOKOUT_MAX_RUNNING_SANDBOXES`). */
export const DEFAULT_MAX_RUNNING_SANDBOXES = 32;
/** Largest `/v1` request body the gateway reads. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Largest request body the model proxy forwards (prompts with long contexts and images). */
export const MAX_MODEL_PROXY_BODY_BYTES = 32 * 1024 * 1024;

export const DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com/v1";
export const DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1";
export const DEFAULT_ANTHROPIC_MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"];
export const DEFAULT_OPENAI_MODELS = ["gpt-5", "gpt-5-mini", "gpt-4.1"];

/** Where the model APIs are and which keys the gateway holds for them. */
export interface ModelSettings {
  readonly scriptedUrl: string | undefined;
  /** The offline model's bearer token; only the model proxy sends it. */
  readonly scriptedToken: string | undefined;
  readonly anthropic: { readonly apiKey: string; readonly baseUrl: string; readonly models: readonly string[] } | undefined;
  readonly openai: { readonly apiKey: string; readonly baseUrl: string; readonly models: readonly string[] } | undefined;
  readonly openaiCompatible:
    { readonly id: string; readonly baseUrl: string; readonly apiKey: string | undefined; readonly models: readonly string[] } | undefined;
  /**
   * The model `/v1/model/complete` answers with (`provider/model`, `LOOKOUT_SMALL_MODEL`); when
   * unset, a small model of the first configured provider (`model-complete.ts`).
   */
  readonly smallModel?: string | undefined;
}

export type ProviderSettings =
  | {
      readonly kind: "local";
      readonly bridgeBundle: string;
      readonly opencodeBin: string | undefined;
      /**
       * OpenCode's config directory with its packages, prepared once per machine and bound
       * read-only into every sandbox (default `.lookout/image/opencode-config`, shared by every
       * gateway of the checkout, test stacks included).
       */
      readonly opencodeConfigDir?: string | undefined;
      readonly bwrapPath: string;
      readonly unsafeNoSandbox: boolean;
    }
  | {
      readonly kind: "modal";
      readonly tokenId: string;
      readonly tokenSecret: string;
      readonly appName: string;
      readonly environment: string | undefined;
    }
  | {
      readonly kind: "daytona";
      readonly apiKey: string;
      readonly apiUrl: string | undefined;
      readonly target: string | undefined;
      readonly snapshot: string | undefined;
    }
  | {
      readonly kind: "vercel";
      readonly token: string;
      readonly teamId: string;
      readonly projectId: string;
      readonly baseSnapshotId: string | undefined;
    };

export interface GatewaySettings {
  /** The repository root (for the bridge bundle and other image files). */
  readonly repoRoot: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The control plane's shared secret; without it every `/v1` request is refused. */
  readonly serviceSecret: string | undefined;
  /** Shared with the control plane to verify git credentials for local repositories. */
  readonly gitCredentialSecret?: string | undefined;
  /** The gateway's address as seen from inside sandboxes (the model proxy's base). */
  readonly publicUrl: string | undefined;
  /** Colon-separated directories local repositories may live in (`LOOKOUT_LOCAL_REPO_ROOTS`); default: home and `.lookout/`. */
  readonly localRepoRoots?: string | undefined;
  readonly provider: ProviderSettings;
  readonly models: ModelSettings;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  /** The cap on running sandboxes no create may exceed; `DEFAULT_MAX_RUNNING_SANDBOXES` when unset. */
  readonly maxRunningSandboxes?: number | undefined;
  /** The warm pool's timings (`LOOKOUT_POOL_*`); `DEFAULT_POOL_SETTINGS` when unset. */
  readonly pool?: PoolSettings | undefined;
}

const optional = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));
const required = (name: string) =>
  z
    .string({ error: `${name} is required for this sandbox provider` })
    .trim()
    .min(1, `${name} is required for this sandbox provider`);
const modelList = (fallback: readonly string[]) =>
  optional.transform((value) =>
    value
      ? value
          .split(",")
          .map((model) => model.trim())
          .filter(Boolean)
      : [...fallback],
  );

const BaseEnv = z.object({
  /** `local` (the default) or the deployment's name; set in the gateway's container or host. */
  LOOKOUT_ENVIRONMENT: optional,
  LOOKOUT_GATEWAY_HOST: optional,
  LOOKOUT_GATEWAY_PORT: optional.pipe(z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().max(65535)).optional()),
  LOOKOUT_GATEWAY_PUBLIC_URL: optional.pipe(z.string().url().optional()),
  LOOKOUT_DATA_DIR: optional,
  LOOKOUT_SERVICE_SECRET_CONTROL_PLANE: optional,
  LOOKOUT_GIT_CREDENTIAL_SECRET: optional,
  LOOKOUT_SANDBOX_PROVIDER: optional.pipe(z.enum(PROVIDER_NAMES).optional()),
  LOOKOUT_LOG_LEVEL: optional.pipe(z.enum(["debug", "info", "warn", "error"]).optional()),
  LOOKOUT_SCRIPTED_MODEL_URL: optional.pipe(z.string().url().optional()),
  LOOKOUT_SCRIPTED_MODEL_TOKEN: optional.pipe(z.string().min(16).optional()),
  LOOKOUT_LOCAL_REPO_ROOTS: optional,
  LOOKOUT_MAX_RUNNING_SANDBOXES: optional.pipe(
    z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(10_000)).optional(),
  ),
  ANTHROPIC_API_KEY: optional,
  ANTHROPIC_BASE_URL: optional.pipe(z.string().url().optional()),
  LOOKOUT_ANTHROPIC_MODELS: modelList(DEFAULT_ANTHROPIC_MODELS),
  OPENAI_API_KEY: optional,
  OPENAI_BASE_URL: optional.pipe(z.string().url().optional()),
  LOOKOUT_OPENAI_MODELS: modelList(DEFAULT_OPENAI_MODELS),
  LOOKOUT_OPENAI_COMPATIBLE_BASE_URL: optional.pipe(z.string().url().optional()),
  LOOKOUT_OPENAI_COMPATIBLE_API_KEY: optional,
  LOOKOUT_OPENAI_COMPATIBLE_ID: optional.pipe(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/)
      .optional(),
  ),
  LOOKOUT_OPENAI_COMPATIBLE_MODELS: modelList([]),
  LOOKOUT_SMALL_MODEL: optional.pipe(ModelRef.optional()),
});

const LocalEnv = z.object({
  LOOKOUT_BRIDGE_BUNDLE: optional,
  LOOKOUT_OPENCODE_BIN: optional,
  LOOKOUT_OPENCODE_CONFIG_DIR: optional,
  LOOKOUT_BWRAP_PATH: optional,
  LOOKOUT_UNSAFE_NO_SANDBOX: optional,
});
const ModalEnv = z.object({
  MODAL_TOKEN_ID: required("MODAL_TOKEN_ID"),
  MODAL_TOKEN_SECRET: required("MODAL_TOKEN_SECRET"),
  LOOKOUT_MODAL_APP: optional,
  MODAL_ENVIRONMENT: optional,
});
const DaytonaEnv = z.object({
  DAYTONA_API_KEY: required("DAYTONA_API_KEY"),
  DAYTONA_API_URL: optional.pipe(z.string().url().optional()),
  DAYTONA_TARGET: optional,
  LOOKOUT_DAYTONA_SNAPSHOT: optional,
});
const VercelEnv = z.object({
  VERCEL_TOKEN: required("VERCEL_TOKEN"),
  VERCEL_TEAM_ID: required("VERCEL_TEAM_ID"),
  VERCEL_PROJECT_ID: required("VERCEL_PROJECT_ID"),
  LOOKOUT_VERCEL_BASE_SNAPSHOT_ID: optional,
});

/** The repository root: the nearest ancestor holding `pnpm-workspace.yaml`. */
export function findRepoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("Could not find the repository root (no pnpm-workspace.yaml above the gateway).");
    dir = parent;
  }
}

/**
 * The real opencode binary inside the repository's pnpm store. The `opencode-ai` package ships
 * a launcher script; the binary itself is in a per-platform package, and CPUs without AVX2 need
 * the `-baseline` build.
 */
export function findOpencodeBinary(repoRoot: string): string | undefined {
  const store = join(repoRoot, "node_modules", ".pnpm");
  if (!existsSync(store)) return undefined;
  const hasAvx2 = existsSync("/proc/cpuinfo") && /\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  const flavours = hasAvx2 ? ["opencode-linux-x64", "opencode-linux-x64-baseline"] : ["opencode-linux-x64-baseline"];
  const entries = readdirSync(store);
  for (const flavour of flavours) {
    for (const entry of entries) {
      if (!entry.startsWith(`${flavour}@`)) continue;
      const candidate = join(store, entry, "node_modules", flavour, "bin", "opencode");
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "env"}: ${issue.message}`).join("; ");
}

/** Reads the gateway's settings from the environment; throws a readable message on bad values. */
export function loadGatewaySettings(env: NodeJS.ProcessEnv = process.env, repoRoot: string = findRepoRoot()): GatewaySettings {
  const base = BaseEnv.safeParse(env);
  if (!base.success) throw new Error(`Invalid gateway configuration: ${describeIssues(base.error)}`);
  const e = base.data;
  const kind = e.LOOKOUT_SANDBOX_PROVIDER ?? "local";
  const environment = e.LOOKOUT_ENVIRONMENT ?? "local";
  if (kind === "local" && environment !== "local") {
    // Bubblewrap on the gateway's own host shares that host with every session: fine on a laptop,
    // never for a team's deployment, where a sandbox provider isolates each session on its own machine.
    throw new LookoutError(
      "CONFIGURATION_INVALID",
      `The local sandbox provider does not run in a deployed environment (LOOKOUT_ENVIRONMENT=${environment}); set LOOKOUT_SANDBOX_PROVIDER to modal, daytona or vercel with its credentials (see docs/deploy.md).`,
    );
  }
  const provider = loadProviderSettings(kind, env, repoRoot);
  return {
    repoRoot,
    host: e.LOOKOUT_GATEWAY_HOST ?? DEFAULT_GATEWAY_HOST,
    port: e.LOOKOUT_GATEWAY_PORT ?? DEFAULT_GATEWAY_PORT,
    dataDir: resolve(repoRoot, e.LOOKOUT_DATA_DIR ?? join(".lookout", "gateway")),
    serviceSecret: e.LOOKOUT_SERVICE_SECRET_CONTROL_PLANE,
    gitCredentialSecret: e.LOOKOUT_GIT_CREDENTIAL_SECRET,
    publicUrl: e.LOOKOUT_GATEWAY_PUBLIC_URL,
    localRepoRoots: e.LOOKOUT_LOCAL_REPO_ROOTS,
    provider,
    logLevel: e.LOOKOUT_LOG_LEVEL ?? "info",
    maxRunningSandboxes: e.LOOKOUT_MAX_RUNNING_SANDBOXES ?? DEFAULT_MAX_RUNNING_SANDBOXES,
    pool: loadPoolSettings(env),
    models: {
      scriptedUrl: e.LOOKOUT_SCRIPTED_MODEL_URL,
      scriptedToken: e.LOOKOUT_SCRIPTED_MODEL_TOKEN,
      anthropic: e.ANTHROPIC_API_KEY
        ? { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL ?? DEFAULT_ANTHROPIC_BASE_URL, models: e.LOOKOUT_ANTHROPIC_MODELS }
        : undefined,
      openai: e.OPENAI_API_KEY
        ? { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL ?? DEFAULT_OPENAI_BASE_URL, models: e.LOOKOUT_OPENAI_MODELS }
        : undefined,
      openaiCompatible: e.LOOKOUT_OPENAI_COMPATIBLE_BASE_URL
        ? {
            id: e.LOOKOUT_OPENAI_COMPATIBLE_ID ?? "openai-compatible",
            baseUrl: e.LOOKOUT_OPENAI_COMPATIBLE_BASE_URL,
            apiKey: e.LOOKOUT_OPENAI_COMPATIBLE_API_KEY,
            models: e.LOOKOUT_OPENAI_COMPATIBLE_MODELS,
          }
        : undefined,
      smallModel: e.LOOKOUT_SMALL_MODEL,
    },
  };
}

function loadProviderSettings(kind: (typeof PROVIDER_NAMES)[number], env: NodeJS.ProcessEnv, repoRoot: string): ProviderSettings {
  const parse = <T extends z.ZodType>(schema: T): z.infer<T> => {
    const result = schema.safeParse(env);
    if (!result.success) throw new Error(`Invalid ${kind} provider configuration: ${describeIssues(result.error)}`);
    return result.data;
  };
  switch (kind) {
    case "local": {
      const e = parse(LocalEnv);
      return {
        kind,
        bridgeBundle: resolve(repoRoot, e.LOOKOUT_BRIDGE_BUNDLE ?? join("packages", "bridge", "dist", "bridge.mjs")),
        opencodeBin: e.LOOKOUT_OPENCODE_BIN ?? findOpencodeBinary(repoRoot),
        opencodeConfigDir: e.LOOKOUT_OPENCODE_CONFIG_DIR ?? join(repoRoot, ".lookout", "image", "opencode-config"),
        bwrapPath: e.LOOKOUT_BWRAP_PATH ?? "/usr/bin/bwrap",
        unsafeNoSandbox: e.LOOKOUT_UNSAFE_NO_SANDBOX === "1",
      };
    }
    case "modal": {
      const e = parse(ModalEnv);
      return {
        kind,
        tokenId: e.MODAL_TOKEN_ID,
        tokenSecret: e.MODAL_TOKEN_SECRET,
        appName: e.LOOKOUT_MODAL_APP ?? "lookout",
        environment: e.MODAL_ENVIRONMENT,
      };
    }
    case "daytona": {
      const e = parse(DaytonaEnv);
      return { kind, apiKey: e.DAYTONA_API_KEY, apiUrl: e.DAYTONA_API_URL, target: e.DAYTONA_TARGET, snapshot: e.LOOKOUT_DAYTONA_SNAPSHOT };
    }
    case "vercel": {
      const e = parse(VercelEnv);
      return {
        kind,
        token: e.VERCEL_TOKEN,
        teamId: e.VERCEL_TEAM_ID,
        projectId: e.VERCEL_PROJECT_ID,
        baseSnapshotId: e.LOOKOUT_VERCEL_BASE_SNAPSHOT_ID,
      };
    }
  }
}
