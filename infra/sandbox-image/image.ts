/**
 * The one definition of what every Lookout sandbox contains. Each provider turns it into its own
 * form (code in `packages/sandbox`): Modal builds it through the SDK's image builder, Daytona gets a
 * snapshot spec, Vercel runs a bootstrap script and snapshots the result, and the local provider
 * binds the same tools from the host. `Dockerfile` beside this file is the rendered equivalent and
 * a test keeps the two in step.
 */

export interface SandboxImageFile {
  /** Path inside the sandbox. */
  readonly path: string;
  /** Path relative to the repository root of the file to copy there. */
  readonly source: string;
  readonly mode: number;
}

export interface SandboxImageDefinition {
  readonly name: string;
  /** Bumped whenever the contents change; providers name their built artefacts after it. */
  readonly version: string;
  /** A Debian-based registry image that already has Node 22. */
  readonly baseImage: string;
  /** Debian packages installed with apt. */
  readonly aptPackages: readonly string[];
  /** The OpenCode CLI, installed from npm; its binary is linked to `opencodeBin`. */
  readonly opencode: { readonly npmPackage: string; readonly version: string };
  /**
   * What OpenCode installs into its global config directory (`$XDG_CONFIG_HOME/opencode`) the first
   * time it runs when the directory lacks it: its plugin package. The image installs it at build
   * time, owned by root and so read-only to the agent, and OpenCode finds it there and downloads
   * nothing; without it every fresh sandbox fetched ~60 MB from the npm registry before its first
   * prompt, and could not when the registry was unreachable. The local provider prepares the same
   * directory once on the host and binds it read-only into each sandbox.
   */
  readonly opencodeConfig: {
    /** `$XDG_CONFIG_HOME/opencode` of the sandbox user. */
    readonly dir: string;
    /** The `package.json` dependencies OpenCode itself writes there (its plugin, at its own version). */
    readonly dependencies: Readonly<Record<string, string>>;
    /** The `.gitignore` OpenCode writes there; present so that it has nothing to write. */
    readonly gitignore: string;
  };
  /**
   * The unprivileged user the agent runs as. The bridge itself runs as root and starts OpenCode,
   * and so every tool of the agent, as this user (`LOOKOUT_AGENT_ISOLATION=separate-user`), so
   * that the agent cannot read the bridge's memory or environment, where the sandbox token is.
   */
  readonly user: { readonly name: string; readonly uid: number; readonly home: string };
  /** Everything Lookout adds lives here (bridge bundle, opencode binary). */
  readonly lookoutDir: string;
  readonly opencodeBin: string;
  readonly bridgePath: string;
  readonly chromiumBin: string;
  /** The repository is cloned (or restored) into `<workspaceDir>/repo`. */
  readonly workspaceDir: string;
  readonly workdir: string;
  readonly files: readonly SandboxImageFile[];
  readonly env: Readonly<Record<string, string>>;
  /** The process every sandbox runs. */
  readonly command: readonly string[];
}

export const SANDBOX_IMAGE = {
  name: "lookout-sandbox",
  version: "2",
  baseImage: "node:22-bookworm-slim",
  aptPackages: ["ca-certificates", "git", "openssh-client", "python3", "python3-venv", "chromium", "ripgrep", "curl", "procps"],
  opencode: { npmPackage: "opencode-ai", version: "1.18.33" },
  opencodeConfig: {
    dir: "/home/sandbox/.config/opencode",
    dependencies: { "@opencode-ai/plugin": "1.18.33" },
    gitignore: "node_modules\npackage.json\npackage-lock.json\nbun.lock\n.gitignore",
  },
  user: { name: "sandbox", uid: 1000, home: "/home/sandbox" },
  lookoutDir: "/opt/lookout",
  opencodeBin: "/opt/lookout/opencode",
  bridgePath: "/opt/lookout/bridge.mjs",
  chromiumBin: "/usr/bin/chromium",
  workspaceDir: "/workspace",
  workdir: "/workspace/repo",
  files: [{ path: "/opt/lookout/bridge.mjs", source: "packages/bridge/dist/bridge.mjs", mode: 0o644 }],
  env: {
    // OpenCode must not reach out for model catalogues; the bridge configures providers itself.
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    // playwright-core drives the distribution's Chromium; no browser is ever downloaded.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1",
    LOOKOUT_CHROMIUM_BIN: "/usr/bin/chromium",
    // Node tools (npm, the agent's scripts) trust the system's CA store, as curl and git do.
    NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt",
  },
  command: ["node", "/opt/lookout/bridge.mjs"],
} as const satisfies SandboxImageDefinition;

/** The `package.json` of OpenCode's prepared config directory, byte for byte as OpenCode writes it. */
export function opencodeConfigPackageJson(image: SandboxImageDefinition): string {
  return `${JSON.stringify({ dependencies: image.opencodeConfig.dependencies }, null, 2)}\n`;
}

/** `text` as a `printf` format that reproduces it (the texts here hold no `%`, `\\` or `'`). */
function printfFormat(text: string): string {
  return `'${text.replaceAll("\n", "\\n")}'`;
}

/**
 * Shell commands that prepare OpenCode's config directory at `dir`: its `package.json` and
 * `.gitignore`, then `npm install` of the pinned packages without their install scripts, all
 * owned by root and read-only. Every image-based provider runs them at build time (`buildSteps`,
 * Vercel's bootstrap script); the local provider does the same in Node (`prepareOpencodeConfig`).
 */
export function opencodeConfigCommands(image: SandboxImageDefinition): string[] {
  const { dir, gitignore } = image.opencodeConfig;
  return [
    `mkdir -p ${dir}`,
    `printf ${printfFormat(opencodeConfigPackageJson(image))} > ${dir}/package.json`,
    `printf ${printfFormat(gitignore)} > ${dir}/.gitignore`,
    `npm install --prefix ${dir} --no-audit --no-fund --ignore-scripts`,
    `chown -R root:root ${dir} && chmod -R a-w ${dir}`,
  ];
}

/**
 * The build steps after `FROM`, as Dockerfile instructions. `files` are not included: how they get
 * in differs per provider (see `renderDockerfile` for the Docker form).
 */
export function buildSteps(image: SandboxImageDefinition): string[] {
  const { user } = image;
  return [
    `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${image.aptPackages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
    `RUN npm install -g ${image.opencode.npmPackage}@${image.opencode.version} && mkdir -p ${image.lookoutDir} && ln -sf "$(npm root -g)/${image.opencode.npmPackage}/bin/opencode" ${image.opencodeBin}`,
    `RUN (id -u ${user.uid} >/dev/null 2>&1 && userdel -r "$(id -nu ${user.uid})" || true) && useradd --create-home --home-dir ${user.home} --uid ${user.uid} --shell /bin/bash ${user.name}`,
    `RUN mkdir -p ${image.workspaceDir} && chown ${user.name}:${user.name} ${image.workspaceDir}`,
    `RUN ${opencodeConfigCommands(image).join(" && ")}`,
    ...Object.entries(image.env).map(([name, value]) => `ENV ${name}=${value}`),
  ];
}

/** The Dockerfile equivalent of the definition (kept in `infra/sandbox-image/Dockerfile`). */
export function renderDockerfile(image: SandboxImageDefinition): string {
  return [
    "# Generated from infra/sandbox-image/image.ts; edit that file, then run",
    "#   pnpm --filter @lookout/sandbox exec tsx scripts/render-dockerfile.ts",
    `FROM ${image.baseImage}`,
    ...buildSteps(image),
    ...image.files.map((file) => `COPY --chmod=${file.mode.toString(8)} ${file.source} ${file.path}`),
    // No USER: the bridge runs as root and starts the agent as `user` (see the field's comment).
    `WORKDIR ${image.workspaceDir}`,
    `CMD ${JSON.stringify(image.command)}`,
    "",
  ].join("\n");
}
