import { BRIDGE_ENV, UPLINK, localRepositoryUrl, type CreateSandboxRequest, type ModelProviderConfig } from "@lookout/protocol";
import { SANDBOX_IMAGE } from "@lookout/sandbox-image";
import type { SandboxProviderCapabilities } from "./provider";

/** Where the bridge finds things inside a sandbox; differs only for the unsandboxed dev mode. */
export interface SandboxLayout {
  readonly workdir: string;
  readonly home: string;
  readonly opencodeBin: string;
  readonly path: string;
}

/** The layout of every image-based sandbox (and of the local provider's bubblewrap sandboxes). */
export const IMAGE_LAYOUT: SandboxLayout = {
  workdir: SANDBOX_IMAGE.workdir,
  home: SANDBOX_IMAGE.user.home,
  opencodeBin: SANDBOX_IMAGE.opencodeBin,
  path: `${SANDBOX_IMAGE.lookoutDir}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
};

const RESERVED_NAME = /^LOOKOUT_/;

/** Names whose values route a sandbox's HTTP(S) through the relay; tools read either spelling. */
const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] as const;
const NO_PROXY = "localhost,127.0.0.1,::1";

/** Where a sandbox reaches Lookout, by the provider's kind of network. */
export function sandboxLookoutUrls(
  network: SandboxProviderCapabilities["network"],
  hostUrls: { readonly controlPlaneUrl: string; readonly gatewayUrl: string },
): { controlPlaneUrl: string; gatewayUrl: string } {
  return network === "uplink" ? { controlPlaneUrl: UPLINK.url, gatewayUrl: UPLINK.url } : { ...hostUrls };
}

/**
 * The bridge's environment for one create request, without the path-dependent variables (the
 * provider adds those with `withLayout`). User secrets come first so that nothing a user names can
 * override the contract; secrets named `LOOKOUT_*` are dropped for the same reason.
 *
 * Every sandbox clones its repository over HTTP: a remote one from its clone URL, a local one
 * from the gateway's git endpoint (`gatewayUrl`, the gateway's address as sandboxes see it), which
 * serves the host repository to the session's credentials only. No host path enters a sandbox.
 */
export function bridgeEnvironment(
  request: CreateSandboxRequest,
  modelProviders: readonly ModelProviderConfig[],
  gatewayUrl: string,
  network: SandboxProviderCapabilities["network"],
): Record<string, string> {
  const urls = sandboxLookoutUrls(network, { controlPlaneUrl: request.controlPlaneUrl, gatewayUrl });
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.env)) {
    if (!RESERVED_NAME.test(name)) env[name] = value;
  }
  Object.assign(env, SANDBOX_IMAGE.env);
  env[BRIDGE_ENV.sessionId] = request.sessionId;
  env[BRIDGE_ENV.sandboxId] = request.sandboxId;
  env[BRIDGE_ENV.sandboxToken] = request.sandboxToken;
  env[BRIDGE_ENV.controlPlaneUrl] = urls.controlPlaneUrl;
  env[BRIDGE_ENV.baseBranch] = request.baseBranch;
  env[BRIDGE_ENV.branch] = request.branch;
  env[BRIDGE_ENV.model] = request.model;
  env[BRIDGE_ENV.modelProviders] = JSON.stringify(modelProviders);
  if (request.readOnly) env[BRIDGE_ENV.readOnly] = "1";
  env[BRIDGE_ENV.repoUrl] =
    request.repository.kind === "remote" ? request.repository.cloneUrl : localRepositoryUrl(urls.gatewayUrl, request.sessionId);
  if (network === "uplink") {
    env[BRIDGE_ENV.uplinkSocket] = UPLINK.socketPath;
    env[BRIDGE_ENV.uplinkPort] = String(UPLINK.port);
    for (const name of PROXY_VARIABLES) env[name] = UPLINK.url;
    env.NO_PROXY = NO_PROXY;
    env.no_proxy = NO_PROXY;
  }
  return env;
}

/** Adds the variables that say where things are inside this provider's sandboxes. */
export function withLayout(env: Readonly<Record<string, string>>, layout: SandboxLayout): Record<string, string> {
  return {
    ...env,
    [BRIDGE_ENV.workdir]: layout.workdir,
    [BRIDGE_ENV.home]: layout.home,
    [BRIDGE_ENV.opencodeBin]: layout.opencodeBin,
    HOME: layout.home,
    PATH: layout.path,
    // OpenCode keeps config, data and cache under XDG paths; pin them inside the private home.
    XDG_CONFIG_HOME: `${layout.home}/.config`,
    XDG_DATA_HOME: `${layout.home}/.local/share`,
    XDG_CACHE_HOME: `${layout.home}/.cache`,
    XDG_STATE_HOME: `${layout.home}/.local/state`,
  };
}

/**
 * For image-based sandboxes whose bridge runs as root: the agent runs as the image's own user, so
 * nothing of the root-owned bridge (environment, memory, files) is readable to it.
 */
export function withSeparateAgentUser(env: Readonly<Record<string, string>>): Record<string, string> {
  return { ...env, [BRIDGE_ENV.agentIsolation]: "separate-user", [BRIDGE_ENV.agentUser]: SANDBOX_IMAGE.user.name };
}
