/** Writes infra/sandbox-image/Dockerfile from the typed definition beside it. */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderDockerfile, SANDBOX_IMAGE } from "@lookout/sandbox-image";

const target = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "infra", "sandbox-image", "Dockerfile");
writeFileSync(target, renderDockerfile(SANDBOX_IMAGE));
process.stdout.write(`wrote ${target}\n`);
