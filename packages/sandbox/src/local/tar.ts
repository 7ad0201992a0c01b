import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Runs GNU tar (snapshots of a sandbox's work directory). */
export async function runTar(args: string[], options: { toleratesChangedFiles: boolean }): Promise<void> {
  try {
    await execFileAsync("tar", args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    // GNU tar exits 1 when a file changed while it was read: the archive is still complete and
    // consistent per file, which is what a snapshot of a running sandbox can offer.
    const exitCode = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
    if (options.toleratesChangedFiles && exitCode === 1) return;
    throw error;
  }
}
