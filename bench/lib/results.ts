import { existsSync, readFileSync, writeFileSync } from "node:fs";

const HEADER = [
  "# Benchmark results",
  "",
  "Written by `pnpm bench` (each benchmark replaces its own section). Numbers depend on the machine;",
  "compare ratios against the baseline measured in the same run, not absolute times across machines.",
  "",
].join("\n");

/**
 * Replaces one benchmark's section of the results file (between its markers), keeping the others,
 * so running a single benchmark does not discard the last numbers of the rest.
 */
export function writeSection(file: string, name: string, markdown: string): void {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const section = `${begin}\n${markdown.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const start = current.indexOf(begin);
  const stop = current.indexOf(end);
  const next =
    start >= 0 && stop > start
      ? current.slice(0, start) + section + current.slice(stop + end.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
