import { GitCredentialRequest, GitCredentialResponse } from "@lookout/protocol";

/**
 * The sandbox's git credential helper. Git runs it (`credential.helper`) whenever it needs a
 * password for the session's remote; it asks the control plane for a short-lived credential with
 * the sandbox token and hands it to git, which keeps it only for that one command. Nothing is
 * written to disk, and OpenCode's processes (which do not have the sandbox token) get nothing.
 */

/** Parses git's credential protocol: `key=value` lines, ending at a blank line or EOF. */
export function parseCredentialInput(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "") break;
    const equals = line.indexOf("=");
    if (equals <= 0) continue;
    fields[line.slice(0, equals)] = line.slice(equals + 1).replace(/\r$/, "");
  }
  return fields;
}

/** Git's answer format; `password_expiry_utc` (seconds) lets git drop it once it expires. */
export function formatCredentialOutput(credential: GitCredentialResponse): string {
  for (const value of [credential.username, credential.password]) {
    // A newline in a value would let it inject other fields into git's protocol.
    if (/[\n\r\0]/.test(value)) throw new Error("The control plane sent a credential with a control character.");
  }
  return `username=${credential.username}\npassword=${credential.password}\npassword_expiry_utc=${Math.floor(credential.expiresAt / 1000)}\n`;
}

export interface CredentialHelperEnv {
  controlPlaneUrl: string;
  sessionId: string;
  sandboxId: string;
  sandboxToken: string;
}

/**
 * Runs one helper invocation: `get` asks the control plane and returns git's answer; `store` and
 * `erase` are no-ops because nothing is cached. An error throws, so git fails without a password.
 */
export async function runCredentialHelper(
  action: string,
  input: string,
  env: CredentialHelperEnv,
  fetcher: typeof fetch = fetch,
): Promise<string> {
  if (action !== "get") return "";
  const fields = parseCredentialInput(input);
  const request = GitCredentialRequest.parse({
    protocol: fields.protocol,
    host: fields.host,
    ...(fields.path ? { path: fields.path } : {}),
  });
  const response = await fetcher(
    `${env.controlPlaneUrl.replace(/\/+$/, "")}/api/sessions/${encodeURIComponent(env.sessionId)}/git-credentials`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${env.sandboxToken}`, "x-lookout-sandbox-id": env.sandboxId, "content-type": "application/json" },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(20_000),
    },
  );
  if (!response.ok)
    throw new Error(`The control plane refused a git credential (${response.status}): ${(await response.text()).slice(0, 300)}`);
  return formatCredentialOutput(GitCredentialResponse.parse(await response.json()));
}

/**
 * Environment for the bridge's own git commands so they use the helper for `remoteUrl` and no
 * other helper (an empty `credential.helper` resets any inherited list). `helperCommand` is a
 * shell command git runs with the action appended, e.g. `!'/path/node' '/opt/lookout/bridge.mjs' git-credential`.
 */
export function gitCredentialEnv(remoteUrl: string, helperCommand: string): Record<string, string> {
  const entries: [string, string][] = [
    ["credential.helper", ""],
    [`credential.${remoteUrl}.helper`, helperCommand],
    [`credential.${remoteUrl}.useHttpPath`, "true"],
  ];
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length), GIT_TERMINAL_PROMPT: "0" };
  entries.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  return env;
}

/** `'…'`-quotes a path for the shell git runs `!` helpers with. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
