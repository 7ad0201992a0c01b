import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BRIDGE_ENV,
  GitCredentialResponse,
  type GitCredentialRequest,
  type ImageBuildReport,
  MAX_IMAGE_OUTPUT_CHARS,
} from "@lookout/protocol";
import type { BridgeConfig } from "./config";
import { Git } from "./git";
import { isolationFacts, planIsolation } from "./isolation";
import { errorMessage, type Logger } from "./logger";
import type { GitCredentialSource } from "./scm/git-credentials";
import { SessionRemote } from "./scm/remote";
import { excludeSetupOutput } from "./setup-exclude";
import { DEFAULT_SETUP_TIMEOUT_MS, describeSetupResult, runSetupScript } from "./setup-script";
import { startUplink } from "./uplink";

/** How long one request on the build channel may take. */
const CHANNEL_TIMEOUT_MS = 20_000;

/** The build mode's own settings, read from the environment next to the bridge's configuration. */
export interface ImageBuildSettings {
  /** The gateway's build channel for this sandbox (`<gateway>/image-build/<sandbox id>`). */
  url: string;
  setupTimeoutMs: number;
}

/** The build mode's settings, or undefined when the bridge serves a session (or the pool). */
export function imageBuildSettings(env: NodeJS.ProcessEnv): ImageBuildSettings | undefined {
  const url = env[BRIDGE_ENV.imageBuildUrl];
  if (!url) return undefined;
  if (!/^https?:\/\//.test(url)) throw new Error(`${BRIDGE_ENV.imageBuildUrl} must be an http(s) URL.`);
  const timeout = Number(env[BRIDGE_ENV.setupTimeoutMs] ?? DEFAULT_SETUP_TIMEOUT_MS);
  if (!Number.isInteger(timeout) || timeout <= 0)
    throw new Error(`${BRIDGE_ENV.setupTimeoutMs} must be a positive whole number of milliseconds.`);
  return { url: url.replace(/\/+$/, ""), setupTimeoutMs: timeout };
}

/** Short-lived read credentials for the repository, from the build channel. */
function channelCredentials(settings: ImageBuildSettings, token: string): GitCredentialSource {
  return async (request: GitCredentialRequest) => {
    const response = await fetch(`${settings.url}/git-credentials`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(CHANNEL_TIMEOUT_MS),
    });
    if (!response.ok)
      throw new Error(`The gateway refused a git credential (${response.status}): ${(await response.text()).slice(0, 300)}`);
    return GitCredentialResponse.parse(await response.json());
  };
}

async function report(settings: ImageBuildSettings, token: string, body: ImageBuildReport): Promise<void> {
  const response = await fetch(`${settings.url}/report`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(CHANNEL_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`The gateway refused the build report (${response.status}): ${(await response.text()).slice(0, 300)}`);
}

/**
 * A repository image build (ADR 0015): clones the base branch's head into the work directory,
 * runs the repository's setup script under its time limit, and reports the outcome on the build
 * channel. Then it waits: the gateway snapshots the sandbox and terminates it (SIGTERM). No
 * session is involved and OpenCode is not started; the image holds the work tree only.
 */
export async function runImageBuild(config: BridgeConfig, settings: ImageBuildSettings, logger: Logger): Promise<void> {
  const uplink = config.uplink ? await startUplink({ ...config.uplink, logger }) : undefined;
  const privateDir = await mkdtemp(join(tmpdir(), "lookout-build-"));
  await chmod(privateDir, 0o755);
  await mkdir(join(privateDir, "home"), { mode: 0o755 });
  const finish = async (code: number): Promise<never> => {
    await uplink?.close();
    await rm(privateDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.once("SIGTERM", () => void finish(0));
  process.once("SIGINT", () => void finish(0));

  let outcome: ImageBuildReport;
  try {
    const isolation = planIsolation(config.agentIsolation, isolationFacts(config.agentUser));
    const agentUser = isolation.mode === "separate-user" ? isolation.agentUser : undefined;
    if (!config.repoUrl) throw new Error(`An image build needs ${BRIDGE_ENV.repoUrl}.`);
    const git = new Git(config.workdir, config.committer, logger, agentUser ? { user: agentUser } : {});
    const remote = new SessionRemote({
      url: config.repoUrl,
      git,
      dir: privateDir,
      credentials: channelCredentials(settings, config.sandboxToken),
      logger,
    });
    // The image's checkout stands on the base branch itself; sessions branch off it later.
    await git.prepare({ remote, baseBranch: config.baseBranch, branch: config.baseBranch });
    const baseSha = await git.head();
    if (!baseSha) throw new Error(`The base branch ${config.baseBranch} has no commits.`);
    const setup = await runSetupScript({
      workdir: config.workdir,
      timeoutMs: settings.setupTimeoutMs,
      maxOutputChars: MAX_IMAGE_OUTPUT_CHARS,
      ...(agentUser ? { runAs: agentUser } : {}),
    });
    logger.info("image build prepared", { baseSha, setup: describeSetupResult(setup) });
    if (setup.status === "succeeded") await excludeSetupOutput(git, config.workdir);
    outcome =
      setup.status === "succeeded" || setup.status === "absent"
        ? {
            outcome: "prepared",
            baseSha,
            setup: setup.status,
            ...(setup.status === "succeeded" ? { setupDurationMs: setup.durationMs, output: setup.output } : {}),
          }
        : { outcome: "failed", message: describeSetupResult(setup), output: setup.output };
  } catch (error) {
    logger.error("image build failed", { error: errorMessage(error) });
    outcome = { outcome: "failed", message: `The build sandbox could not prepare the repository: ${errorMessage(error)}`.slice(0, 2_000) };
  }
  try {
    await report(settings, config.sandboxToken, outcome);
  } catch (error) {
    logger.error("the build report did not reach the gateway", { error: errorMessage(error) });
    await finish(1);
  }
  // Stays up for the snapshot (some providers snapshot only running sandboxes) and the SIGTERM after it.
  setInterval(() => {}, 60_000);
}
