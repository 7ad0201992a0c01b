import { GitCredentialRequest, GitCredentialResponse } from "@lookout/protocol";
import type { ControlPlaneTarget } from "./pull-request-tool";

/**
 * The bridge's git credentials. Right before each network git command (fetch, push) the bridge
 * asks the control plane for a short-lived credential for the session's remote, with the sandbox
 * token, and hands only that credential to that one git process, in its environment (see
 * `authorizationConfig`). Nothing is written to disk, the sandbox token never leaves the bridge's
 * memory, and no process of the agent gets either.
 */

/** How long the control plane gets to mint a credential (it may ask GitHub). */
const CREDENTIAL_TIMEOUT_MS = 20_000;

/** Asks for a credential for the repository git is about to talk to. */
export type GitCredentialSource = (request: GitCredentialRequest) => Promise<GitCredentialResponse>;

/** `POST /api/sessions/:id/git-credentials` as the sandbox. */
export function controlPlaneCredentials(target: ControlPlaneTarget): GitCredentialSource {
  const fetcher = target.fetcher ?? fetch;
  return async (request) => {
    const response = await fetcher(
      `${target.controlPlaneUrl.replace(/\/+$/, "")}/api/sessions/${encodeURIComponent(target.sessionId)}/git-credentials`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${target.sandboxToken}`,
          "x-lookout-sandbox-id": target.sandboxId,
          "content-type": "application/json",
        },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(CREDENTIAL_TIMEOUT_MS),
      },
    );
    if (!response.ok)
      throw new Error(`The control plane refused a git credential (${response.status}): ${(await response.text()).slice(0, 300)}`);
    return GitCredentialResponse.parse(await response.json());
  };
}

/**
 * What git itself would ask a credential helper for this URL with `credential.useHttpPath`: the
 * protocol, `host[:port]` and the path without its leading slash. Undefined for anything but
 * http(s), which needs no credential from Lookout (local paths in tests and development).
 */
export function credentialRequestFor(url: string): GitCredentialRequest | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined;
  const path = decodeURIComponent(parsed.pathname).replace(/^\/+/, "");
  return GitCredentialRequest.parse({ protocol: parsed.protocol.slice(0, -1), host: parsed.host, ...(path ? { path } : {}) });
}

/**
 * Config entries (for `GIT_CONFIG_COUNT`, never the command line) that send the credential as
 * basic auth to `url` and nowhere else: `http.<url>.extraHeader` applies only to requests for that
 * remote, and curl drops it when a redirect leaves the host. The empty `http.extraHeader` first
 * resets any header list configured before.
 */
export function authorizationConfig(url: string, credential: GitCredentialResponse): Array<[string, string]> {
  for (const value of [credential.username, credential.password]) {
    // A line break would end the header and start another one.
    if (/[\n\r\0]/.test(value)) throw new Error("The control plane sent a git credential with a control character.");
  }
  const basic = Buffer.from(`${credential.username}:${credential.password}`).toString("base64");
  return [
    ["http.extraHeader", ""],
    [`http.${url}.extraHeader`, `Authorization: Basic ${basic}`],
  ];
}
