import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Sandbox } from "@vercel/sandbox";
import { opencodeConfigCommands, type SandboxImageDefinition } from "@lookout/sandbox-image";

/** Vercel's managed Node 22 runtime (Amazon Linux 2023), the base every Lookout sandbox builds on. */
export const VERCEL_RUNTIME = "node22";

/**
 * The sandbox image as a shell script for Vercel's runtime. Vercel sandboxes are Amazon Linux, so
 * the Debian package list is mapped to dnf names; Chromium is not packaged there and comes from
 * Playwright's build instead, which is the one place a browser is downloaded (on Vercel, never
 * here).
 */
export function vercelBootstrapScript(image: SandboxImageDefinition): string {
  const dnfNames: Record<string, string | undefined> = {
    "ca-certificates": "ca-certificates",
    git: "git",
    "openssh-client": "openssh-clients",
    python3: "python3",
    "python3-venv": "python3-pip",
    ripgrep: undefined,
    curl: undefined,
    procps: "procps-ng",
    chromium: undefined,
  };
  const packages = image.aptPackages.map((name) => dnfNames[name]).filter((name): name is string => name !== undefined);
  const { user } = image;
  return [
    "set -euo pipefail",
    `dnf install -y ${packages.join(" ")}`,
    `npm install -g ${image.opencode.npmPackage}@${image.opencode.version}`,
    `mkdir -p ${image.lookoutDir} ${image.workspaceDir} ${user.home}`,
    `ln -sf "$(npm root -g)/${image.opencode.npmPackage}/bin/opencode" ${image.opencodeBin}`,
    `npx --yes playwright@1 install --with-deps chromium && ln -sf "$(ls -d /root/.cache/ms-playwright/chromium-*/chrome-linux/chrome | head -1)" ${image.chromiumBin}`,
    `chown -R vercel-sandbox: ${image.workspaceDir} ${user.home} 2>/dev/null || true`,
    // After the chown: OpenCode's prepared config directory stays root's, read-only to the agent.
    ...opencodeConfigCommands(image),
  ].join("\n");
}

/**
 * Builds the base snapshot every Vercel sandbox starts from: a runtime sandbox, the bootstrap
 * script, the image's files from the repository, then a snapshot. An image-rebuild job runs this
 * whenever `infra/sandbox-image` changes and stores the id in LOOKOUT_VERCEL_BASE_SNAPSHOT_ID.
 */
export async function buildVercelBaseSnapshot(
  credentials: { token: string; teamId: string; projectId: string; fetch?: typeof globalThis.fetch },
  image: SandboxImageDefinition,
  repoRoot: string,
): Promise<string> {
  const sandbox = await Sandbox.create({ ...credentials, runtime: VERCEL_RUNTIME, timeout: 30 * 60_000 });
  try {
    const result = await sandbox.runCommand({ cmd: "bash", args: ["-c", vercelBootstrapScript(image)], sudo: true });
    if (result.exitCode !== 0) throw new Error(`The bootstrap script failed with exit code ${result.exitCode}.`);
    const files = await Promise.all(
      image.files.map(async (file) => ({ path: file.path, content: await readFile(join(repoRoot, file.source)), mode: file.mode })),
    );
    await sandbox.writeFiles(files);
    const snapshot = await sandbox.snapshot();
    return snapshot.snapshotId;
  } catch (error) {
    await sandbox.delete().catch(() => undefined);
    throw error;
  }
}
