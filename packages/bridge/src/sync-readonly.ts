/**
 * Which shell commands only read, so the agent's bash tool may run them while the work tree is
 * still catching up with the remote (`sync-gate.ts`). The answer errs towards "writes": a command
 * that is not plainly one of the reading programs below, with no argument that makes it write,
 * waits for the sync. Nothing here is a security boundary — the agent may write once the sync is
 * done — it only keeps writes off a work tree that git is still moving.
 */

/** Programs that only read files, given none of their writing options. */
const READING_PROGRAMS: ReadonlySet<string> = new Set([
  "basename",
  "cat",
  "cut",
  "date",
  "diff",
  "dirname",
  "du",
  "echo",
  "false",
  "file",
  "find",
  "grep",
  "egrep",
  "fgrep",
  "head",
  "ls",
  "nl",
  "pwd",
  "realpath",
  "rg",
  "sort",
  "stat",
  "tail",
  "tr",
  "tree",
  "true",
  "wc",
  "which",
]);

/** Options that make an otherwise reading program write a file or run another program. */
const WRITING_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  find: ["-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"],
  rg: ["--pre"],
  sort: ["-o", "--output", "--compress-program"],
  tree: ["-o"],
};

/** Git subcommands that only read the repository. */
const READING_GIT_SUBCOMMANDS: ReadonlySet<string> = new Set([
  "blame",
  "cat-file",
  "describe",
  "diff",
  "grep",
  "log",
  "ls-files",
  "ls-tree",
  "rev-parse",
  "shortlog",
  "show",
  "status",
]);

/** Redirections that write nowhere, removed before the check for `>`. */
const HARMLESS_REDIRECTIONS = /\s*(?:[12]?>\s*\/dev\/null|2>&1)/g;

/** Whether `command` (as the agent's bash tool received it) only reads. */
export function isReadOnlyCommand(command: string): boolean {
  const text = command.replace(HARMLESS_REDIRECTIONS, "");
  // Redirections, command and process substitution, here-documents: any of them may write.
  if (/[<>`]|\$\(/.test(text)) return false;
  const segments = text.split(/&&|\|\||[;|&\n]/).map((segment) => segment.trim());
  if (segments.every((segment) => segment === "")) return false;
  return segments.every((segment) => segment === "" || segmentReads(segment));
}

function segmentReads(segment: string): boolean {
  const [program = "", ...args] = segment.split(/\s+/);
  if (program === "git") return gitReads(args);
  if (!READING_PROGRAMS.has(program)) return false;
  const writing = WRITING_OPTIONS[program] ?? [];
  // A prefix match also catches an option's attached value (`-ofile`, `--output=file`).
  return !args.some((arg) => writing.some((option) => arg.startsWith(option)));
}

function gitReads(args: readonly string[]): boolean {
  const rest = args[0] === "--no-pager" ? args.slice(1) : args;
  const [subcommand = "", ...options] = rest;
  if (!READING_GIT_SUBCOMMANDS.has(subcommand)) return false;
  // `--output=<file>` makes diff and log write; `--ext-diff`/`--textconv` run configured programs.
  return !options.some((option) => option.startsWith("--output") || option === "--ext-diff" || option === "--textconv");
}
