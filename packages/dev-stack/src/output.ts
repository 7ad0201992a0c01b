import { createWriteStream, type WriteStream } from "node:fs";

/** How many of the last output lines are kept for error messages. */
const TAIL_LINES = 60;

/**
 * Where a Worker's output goes: whole lines, to an optional log file and an optional callback,
 * with the last lines kept for error messages.
 */
export class OutputLog {
  private readonly file: WriteStream | undefined;
  private readonly recent: string[] = [];
  private readonly pending = new Map<NodeJS.ReadableStream, string>();

  constructor(
    logFile: string | undefined,
    private readonly onLine: ((line: string) => void) | undefined,
  ) {
    this.file = logFile === undefined ? undefined : createWriteStream(logFile, { mode: 0o600 });
  }

  line(line: string): void {
    this.file?.write(`${line}\n`);
    this.recent.push(line);
    if (this.recent.length > TAIL_LINES) this.recent.shift();
    this.onLine?.(line);
  }

  /** Logs what `stream` writes, line by line (a line may arrive in pieces), showing each to `inspect` first. */
  follow(stream: NodeJS.ReadableStream, inspect?: (line: string) => void): void {
    const take = (line: string) => {
      inspect?.(line);
      this.line(line);
    };
    stream.on("data", (chunk: Buffer | string) => {
      const lines = ((this.pending.get(stream) ?? "") + chunk.toString()).split("\n");
      this.pending.set(stream, lines.pop() ?? "");
      for (const line of lines) take(line.replace(/\r$/, ""));
    });
    stream.on("end", () => {
      const rest = this.pending.get(stream);
      this.pending.delete(stream);
      if (rest) take(rest);
    });
  }

  tail(lines = TAIL_LINES): string {
    return this.recent.slice(-lines).join("\n");
  }

  close(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    return new Promise((resolve) => file.end(resolve));
  }
}
