import { join } from "node:path";
import { Image, type Daytona } from "@daytonaio/sdk";
import { buildSteps, type SandboxImageDefinition } from "@lookout/sandbox-image";

/** The Daytona snapshot name for a version of the sandbox image. */
export function daytonaSnapshotName(image: SandboxImageDefinition): string {
  return `${image.name}-v${image.version}`;
}

/**
 * The sandbox image as a Daytona image spec: the shared build steps, then the image's files from
 * the repository (Daytona uploads local files as build context).
 */
export function daytonaImage(image: SandboxImageDefinition, repoRoot: string): Image {
  let spec = Image.base(image.baseImage).dockerfileCommands(buildSteps(image));
  for (const file of image.files) spec = spec.addLocalFile(join(repoRoot, file.source), file.path);
  return spec.workdir(image.workspaceDir);
}

/**
 * Builds (or rebuilds) the base snapshot every Daytona sandbox starts from. An image-rebuild job
 * runs this whenever `infra/sandbox-image` changes; sandboxes never build images themselves.
 */
export async function buildDaytonaSnapshot(
  client: Daytona,
  image: SandboxImageDefinition,
  repoRoot: string,
  onLogs?: (chunk: string) => void,
): Promise<string> {
  const name = daytonaSnapshotName(image);
  await client.snapshot.create({ name, image: daytonaImage(image, repoRoot) }, { ...(onLogs ? { onLogs } : {}), timeout: 0 });
  return name;
}
