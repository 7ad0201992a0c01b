import type { Image, ModalClient } from "modal";
import { buildSteps, type SandboxImageDefinition } from "@lookout/sandbox-image";

/** Base64 characters per Dockerfile line when a file is written into the image. */
const FILE_CHUNK_CHARS = 48 * 1024;

/**
 * Dockerfile steps that write one file into the image. Modal's JS image builder cannot COPY from a
 * local build context, so small files (the bridge bundle) travel inside the build commands as
 * base64 chunks; Modal caches the layer by its commands, so a bundle is uploaded once per version.
 */
export function fileWriteSteps(path: string, content: Uint8Array, mode: number): string[] {
  const encoded = Buffer.from(content).toString("base64");
  const staging = `/tmp/lookout-file-${path.replace(/[^A-Za-z0-9]/g, "_")}.b64`;
  const steps = [`RUN mkdir -p "$(dirname ${path})" && rm -f ${staging}`];
  for (let offset = 0; offset < encoded.length; offset += FILE_CHUNK_CHARS) {
    steps.push(`RUN printf '%s' '${encoded.slice(offset, offset + FILE_CHUNK_CHARS)}' >> ${staging}`);
  }
  steps.push(`RUN base64 -d ${staging} > ${path} && rm ${staging} && chmod ${mode.toString(8)} ${path}`);
  return steps;
}

/**
 * The sandbox image as a Modal image: the registry base plus the shared build steps, then the
 * image's files (read by the caller from the repository).
 */
export function modalImage(client: ModalClient, image: SandboxImageDefinition, files: ReadonlyMap<string, Uint8Array>): Image {
  const fileSteps = image.files.flatMap((file) => {
    const content = files.get(file.path);
    if (!content) throw new Error(`No content for ${file.path}`);
    return fileWriteSteps(file.path, content, file.mode);
  });
  return client.images.fromRegistry(image.baseImage).dockerfileCommands([...buildSteps(image), ...fileSteps]);
}
