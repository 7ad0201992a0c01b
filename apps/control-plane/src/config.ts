import { LookoutError } from "@lookout/protocol";
import { z } from "zod";
import type { Env } from "./env";
import { log } from "./log";

/**
 * What the Worker checks about its environment before it serves anything. Each entry names one
 * binding, variable or secret, says what it is for, when it must be present, and (for text) the
 * shape it must have when it is. A deployed Worker (`LOOKOUT_ENVIRONMENT` other than `local`) with a
 * missing or malformed entry answers every request with `CONFIGURATION_INVALID` naming it, instead
 * of half working; locally the start command supplies the secrets and a missing one still fails
 * closed where it is used.
 *
 * Adding a variable: one entry here (and its field in `env.ts`). Integration credentials (GitHub,
 * Slack, Linear, …) stay `optional`: an integration without them refuses its own routes.
 */
export type Requirement =
  /** Every environment, the local one included (bindings and `[vars]` from `wrangler.toml`). */
  | "always"
  /** Every deployed environment (secrets `npm run deploy` sets). */
  | "deployed"
  /** Never required; checked only when set. */
  | "optional";

export interface Setting {
  readonly description: string;
  readonly required: Requirement;
  /** A binding (an object the runtime provides) rather than text. */
  readonly binding?: true;
  /** The shape a text value must have when it is set. */
  readonly format?: z.ZodType<string>;
  /** A stricter shape a deployment needs (local secrets may be short test values). */
  readonly deployedFormat?: z.ZodType<string>;
}

const url = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
/** Long enough to resist guessing: 32 random bytes encode to 43 base64url characters. */
const MIN_SECRET_LENGTH = 32;
const randomSecret = z.string().min(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters (e.g. 32 random bytes)`);
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 digest in lowercase hex");
const keyList = z
  .string()
  .regex(/^[\w.-]+:[A-Za-z0-9+/=]+(,[\w.-]+:[A-Za-z0-9+/=]+)*$/, "must be `version:base64key` pairs separated by commas");
const modelId = /[a-z0-9][\w.-]*\/[\w.:-]+/;
const modelList = z
  .string()
  .regex(
    new RegExp(`^\\s*${modelId.source}(\\s*,\\s*${modelId.source})*\\s*,?\\s*$`),
    "must be `provider/model` entries separated by commas",
  );
const flag = z.enum(["true", "false"], { error: "must be `true` or `false`" });
const json = z.string().refine((text) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}, "must be JSON");

export const SETTINGS = {
  LOOKOUT_ENVIRONMENT: {
    description: "Which deployment this is: `local`, `staging` or `production`",
    required: "optional",
    format: z.string().regex(/^[a-z][a-z0-9-]*$/),
  },
  DB: { description: "The D1 index (sessions, users, repositories, triggers)", required: "always", binding: true },
  SESSION: { description: "The SessionAgent Durable Object namespace", required: "always", binding: true },
  TRIGGER_SCHEDULER: { description: "The TriggerScheduler Durable Object namespace", required: "always", binding: true },
  ASSETS: { description: "The dashboard's static assets", required: "deployed", binding: true },
  GATEWAY: { description: "A service binding to the sandbox gateway", required: "optional", binding: true },
  GATEWAY_CONTAINER: { description: "The sandbox gateway as a Cloudflare Container", required: "optional", binding: true },
  GATEWAY_URL: { description: "The sandbox gateway's base URL", required: "always", format: url },
  GATEWAY_PUBLIC_URL: { description: "The gateway's base URL as sandboxes reach it", required: "optional", format: url },
  PUBLIC_URL: { description: "The URL people, sandboxes and webhooks use to reach this Worker", required: "always", format: url },
  TRUSTED_ORIGINS: { description: "Extra origins allowed to write with the session cookie", required: "optional" },
  TRUST_CF_CONNECTING_IP: { description: "Trust Cloudflare's CF-Connecting-IP header", required: "optional", format: flag },
  DEFAULT_MODEL: { description: "The model new sessions use", required: "always", format: modelList },
  MODELS: { description: "The models offered to users", required: "always", format: modelList },
  LIFECYCLE_OVERRIDES: { description: "Session lifecycle timing overrides", required: "optional", format: json },
  TRIGGER_LIMITS: { description: "Trigger caps and timing overrides", required: "optional", format: json },
  ADMIN_TOKEN_SHA256: { description: "SHA-256 of the admin login token", required: "deployed", format: sha256Hex },
  WS_TOKEN_SECRET: { description: "Key for signing WebSocket tokens", required: "deployed", deployedFormat: randomSecret },
  SECRETS_ENCRYPTION_KEYS: { description: "Keys that seal stored secrets", required: "deployed", format: keyList },
  GATEWAY_SERVICE_SECRET: {
    description: "Secret the Worker signs gateway requests with",
    required: "deployed",
    deployedFormat: randomSecret,
  },
  GIT_CREDENTIAL_SECRET: {
    description: "Secret shared with the gateway for git credentials",
    required: "deployed",
    deployedFormat: randomSecret,
  },
  PULL_REQUEST_DRAFT_DEFAULT: { description: "Open pull requests as drafts", required: "optional", format: flag },
  GITHUB_APP_ID: { description: "The GitHub App's id", required: "optional", format: z.string().regex(/^\d+$/, "must be a number") },
  GITHUB_APP_PRIVATE_KEY: { description: "The GitHub App's private key (PEM)", required: "optional" },
  GITHUB_APP_INSTALLATION_ID: {
    description: "The GitHub App installation",
    required: "optional",
    format: z.string().regex(/^\d+$/, "must be a number"),
  },
  GITHUB_APP_CLIENT_ID: { description: "The GitHub App's OAuth client id", required: "optional" },
  GITHUB_APP_CLIENT_SECRET: { description: "The GitHub App's OAuth client secret", required: "optional" },
  GITHUB_WEBHOOK_SECRET: { description: "Verifies GitHub webhook signatures", required: "optional" },
  GITHUB_API_URL: { description: "GitHub's API base URL", required: "optional", format: url },
  GITHUB_WEB_URL: { description: "GitHub's web and git base URL (GitHub Enterprise Server)", required: "optional", format: url },
  ALLOWED_GITHUB_USERS: { description: "GitHub logins admitted by GitHub sign-in", required: "optional" },
  ALLOWED_GITHUB_ORGS: { description: "GitHub organisations admitted by GitHub sign-in", required: "optional" },
  ADMIN_GITHUB_USERS: { description: "GitHub logins made admins", required: "optional" },
} as const satisfies Partial<Record<keyof Env, Setting>>;

/**
 * Whether `LOOKOUT_ENVIRONMENT` names a deployment. Only unset or `local` is local, so a misspelt
 * deployment name still gets the deployment's checks.
 */
export function isDeployed(env: Pick<Env, "LOOKOUT_ENVIRONMENT">): boolean {
  return (env.LOOKOUT_ENVIRONMENT ?? "local") !== "local";
}

/**
 * Every problem with `env`, one readable line each (empty when it is usable). Settings are checked
 * in `SETTINGS` order, then the rules that span several of them.
 */
export function configurationProblems(env: Env, settings: Readonly<Record<string, Setting>> = SETTINGS): string[] {
  const deployed = isDeployed(env);
  const values = env as unknown as Record<string, unknown>;
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(settings)) {
    const value = values[name];
    const required = setting.required === "always" || (setting.required === "deployed" && deployed);
    if (value === undefined || value === null || value === "") {
      if (required) problems.push(`${name} (${setting.description}) is not set`);
      continue;
    }
    if (setting.binding) {
      if (typeof value !== "object" && typeof value !== "function")
        problems.push(`${name} (${setting.description}) must be a binding, not text`);
      continue;
    }
    if (typeof value !== "string") {
      problems.push(`${name} (${setting.description}) must be text`);
      continue;
    }
    const format = deployed && "deployedFormat" in setting ? setting.deployedFormat : "format" in setting ? setting.format : undefined;
    const parsed = format?.safeParse(value);
    if (parsed && !parsed.success) problems.push(`${name} (${setting.description}) ${parsed.error.issues[0]?.message ?? "is malformed"}`);
  }
  if (deployed) problems.push(...deployedProblems(env));
  return problems;
}

/** What a deployment needs beyond presence: public HTTPS addresses and a gateway it can reach. */
function deployedProblems(env: Env): string[] {
  const problems: string[] = [];
  if (isLocalUrl(env.PUBLIC_URL)) problems.push(`PUBLIC_URL must be the Worker's public https:// address, not ${env.PUBLIC_URL}`);
  if (!env.GATEWAY && !env.GATEWAY_CONTAINER && isLocalUrl(env.GATEWAY_URL)) {
    problems.push(`GATEWAY_URL must be the gateway's public https:// address (or bind GATEWAY_CONTAINER), not ${env.GATEWAY_URL}`);
  }
  if (env.GATEWAY_CONTAINER && !env.GATEWAY_PUBLIC_URL) {
    problems.push("GATEWAY_PUBLIC_URL must be set with GATEWAY_CONTAINER (PUBLIC_URL + /gateway): sandboxes reach the model proxy there");
  }
  return problems;
}

function isLocalUrl(value: string | undefined): boolean {
  if (!value) return false;
  try {
    const parsed = new URL(value);
    return parsed.protocol !== "https:" || ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"].includes(parsed.hostname);
  } catch {
    return false;
  }
}

const verdicts = new WeakMap<object, LookoutError | null>();

/**
 * `CONFIGURATION_INVALID` naming every problem when `env` is not usable, else null. The verdict is
 * kept per `env` object, which the runtime keeps for the isolate's life, so requests pay for it once.
 */
export function configurationError(env: Env): LookoutError | null {
  const known = verdicts.get(env);
  if (known !== undefined) return known;
  const problems = configurationProblems(env);
  const where = isDeployed(env) ? ` --env ${env.LOOKOUT_ENVIRONMENT}` : "";
  const verdict = problems.length
    ? new LookoutError(
        "CONFIGURATION_INVALID",
        `This Worker's configuration is incomplete: ${problems.join("; ")}. Set secrets with \`wrangler secret put NAME${where}\` (or run \`npm run deploy\`) and variables in wrangler.toml.`,
        { problems },
      )
    : null;
  if (verdict) log.error("configuration invalid; refusing to serve", { problems });
  verdicts.set(env, verdict);
  return verdict;
}
