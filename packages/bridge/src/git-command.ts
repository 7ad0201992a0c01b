import { execFile } from "node:child_process";

/**
 * One git command of the bridge: the configuration and environment that keep a checkout the agent
 * controls from making git run a program, and the runner that starts git without a shell.
 */

/** Output cap for one git command, so a huge diff cannot exhaust memory. */
const MAX_GIT_OUTPUT_BYTES = 64 * 1024 * 1024;
/** The longest one git command of the bridge may take (a FIFO planted as a config file would block it forever). */
export const GIT_TIMEOUT_MS = 10 * 60_000;

/**
 * Configuration every git command of the bridge runs with, at command scope (after, so above, the
 * repository's own). The checkout belongs to the agent, which can write `.git/config`, hooks,
 * `.gitattributes` and everything they point at; none of it may make the bridge's git run a
 * program: hooks, the fsmonitor hook, external diff, the pager, askpass, credential helpers,
 * signing and submodule recursion are all turned off here, and the drivers a repository defines
 * by name are turned off by `repositoryOverrides`. `safe.directory` lets the bridge's git work in
 * a checkout another user owns: that protection is for exactly what these settings do instead.
 */
export const HARDENED_GIT_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ["core.hooksPath", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["core.sshCommand", ""],
  ["core.askPass", ""],
  ["core.pager", "cat"],
  ["core.editor", ":"],
  ["core.attributesFile", "/dev/null"],
  ["core.alternateRefsCommand", ""],
  ["diff.external", ""],
  ["credential.helper", ""],
  ["commit.gpgSign", "false"],
  ["tag.gpgSign", "false"],
  ["log.showSignature", "false"],
  ["submodule.recurse", "false"],
  ["fetch.recurseSubmodules", "false"],
  ["push.recurseSubmodules", "no"],
  ["gc.auto", "0"],
  ["maintenance.auto", "false"],
  ["protocol.ext.allow", "never"],
  ["safe.directory", "*"],
];

/**
 * Keys a repository's configuration may name a program with, per driver or remote name (so no
 * fixed list can cover them), and the value that turns each off. An emptied command is never run:
 * filters and the fsmonitor skip it, and a textconv or external diff fails instead of running.
 */
const DRIVER_KEYS: ReadonlyArray<{ pattern: RegExp; value: string }> = [
  { pattern: /^filter\..+\.(clean|smudge|process)$/, value: "" },
  { pattern: /^filter\..+\.required$/, value: "false" },
  { pattern: /^diff\..+\.(textconv|command)$/, value: "" },
  { pattern: /^merge\..+\.driver$/, value: "" },
  { pattern: /^remote\..+\.(uploadpack|receivepack|vcs)$/, value: "" },
];

/**
 * Overrides for every program-naming key in `git config --list --includes -z` output (included
 * files count: `include.path` and `includeIf` pull keys in from anywhere the agent can write).
 */
export function repositoryOverrides(configList: string): Array<[string, string]> {
  const overrides = new Map<string, string>();
  for (const entry of configList.split("\0")) {
    const newline = entry.indexOf("\n");
    const key = newline === -1 ? entry : entry.slice(0, newline);
    const rule = DRIVER_KEYS.find(({ pattern }) => pattern.test(key));
    if (rule) overrides.set(key, rule.value);
  }
  return [...overrides];
}

/**
 * The environment of one git command: the given one without `LOOKOUT_*` (the bridge's contract)
 * and `GIT_*` (which could point git anywhere), with no system or global configuration, no prompts,
 * and `config` at command scope through `GIT_CONFIG_COUNT` (never on the command line, which every
 * process can read: the push credential travels this way).
 */
export function gitEnvironment(base: NodeJS.ProcessEnv, config: ReadonlyArray<readonly [string, string]>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!key.startsWith("LOOKOUT_") && !key.startsWith("GIT_") && key !== "SSH_ASKPASS") env[key] = value;
  }
  Object.assign(env, {
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "",
    GIT_PAGER: "cat",
    GIT_EDITOR: ":",
    LC_ALL: "C",
    GIT_CONFIG_COUNT: String(config.length),
  });
  config.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  return env;
}

/** The protocol policy: only `allowed` (the session's remote's, or local paths) may be used. */
export function protocolPolicy(allowed: string): Array<[string, string]> {
  return [
    ["protocol.allow", "never"],
    [`protocol.${allowed}.allow`, "always"],
  ];
}

export interface GitUser {
  uid: number;
  gid: number;
}

export interface GitResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class GitError extends Error {
  override readonly name = "GitError";
  constructor(
    readonly args: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`git ${args[0] ?? ""} failed (exit ${code}): ${stderr.trim().slice(0, 500)}`);
  }
}

/**
 * Runs `git <args>` with `execFile`: no shell ever sees a ref, path or message. Resolves with the
 * result when the exit code is in `okCodes`, else rejects with a `GitError`.
 */
export function execGit(
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; user?: GitUser; okCodes?: readonly number[] },
): Promise<GitResult> {
  const okCodes = options.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      ["--no-pager", ...args],
      {
        cwd: options.cwd,
        env: options.env,
        maxBuffer: MAX_GIT_OUTPUT_BYTES,
        timeout: GIT_TIMEOUT_MS,
        killSignal: "SIGKILL",
        encoding: "utf8",
        ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        if (okCodes.includes(code)) resolve({ stdout, stderr, code });
        else reject(new GitError(args, code, stderr || (error?.message ?? "")));
      },
    );
  });
}
