import { existsSync, statSync } from "node:fs";
import { chmod, copyFile, mkdir, rename, utimes } from "node:fs/promises";
import { dirname } from "node:path";

/** Execute-only: its user can run it but not read it (see `SANDBOX_PATHS.bridgeNode`). */
const EXECUTE_ONLY = 0o111;

/**
 * Keeps `target` an execute-only copy of the Node binary at `source`, copied again only when the
 * host's Node changes (size or modification time) or the copy lost its mode. The copy is written
 * beside the target and renamed into place, so a running sandbox never sees half a binary.
 */
export async function prepareExecuteOnlyNode(source: string, target: string): Promise<void> {
  const wanted = statSync(source);
  const current = existsSync(target) ? statSync(target) : undefined;
  if (current && current.size === wanted.size && current.mtimeMs === wanted.mtimeMs && (current.mode & 0o777) === EXECUTE_ONLY) return;
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  await copyFile(source, partial);
  await chmod(partial, EXECUTE_ONLY);
  await utimes(partial, wanted.atime, wanted.mtime);
  await rename(partial, target);
}
