/**
 * Runs every package's tests through turbo (one package at a time: sandboxes and workerd share two
 * cores in CI), streams their output, and ends with one vitest-style summary line for the whole
 * repository so the closing line of `npm test` says how many tests passed.
 */
import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const turbo = join(root, "node_modules", "turbo", "bin", "turbo");
const args = ["run", "test", "--concurrency=1", "--output-logs=full", "--log-order=stream", ...process.argv.slice(2)];

const ansi = /\x1b\[[0-9;]*m/g;
const totals = { passed: 0, failed: 0, skipped: 0, files: 0 };
const perPackage: string[] = [];
let buffer = "";

const child = spawn(process.execPath, [turbo, ...args], {
  cwd: root,
  stdio: ["ignore", "pipe", "inherit"],
  env: { ...process.env, FORCE_COLOR: "1" },
});
child.stdout.on("data", (chunk: Buffer) => {
  process.stdout.write(chunk);
  buffer += chunk.toString();
  const lines = buffer.split("\n");
  buffer = lines.pop() ?? "";
  for (const line of lines) record(line.replace(ansi, ""));
});

function record(line: string): void {
  // e.g. "@lookout/web:test:       Tests  41 passed | 1 skipped (42)"
  const match = /^(\S+):test:\s+Tests\s+(.*)\((\d+)\)\s*$/.exec(line);
  if (!match) return;
  const [, pkg, counts] = match;
  const count = (label: string) => Number(new RegExp(`(\\d+) ${label}`).exec(counts ?? "")?.[1] ?? 0);
  totals.passed += count("passed");
  totals.failed += count("failed");
  totals.skipped += count("skipped");
  perPackage.push(`  ${pkg!.padEnd(28)} ${counts!.trim()}`);
}

child.on("exit", (code) => {
  const parts = [
    totals.failed ? `${totals.failed} failed` : "",
    `${totals.passed} passed`,
    totals.skipped ? `${totals.skipped} skipped` : "",
  ].filter(Boolean);
  process.stdout.write(`\n${perPackage.join("\n")}\n\n Tests  ${parts.join(" | ")} (${totals.passed + totals.failed + totals.skipped})\n`);
  process.exit(code ?? 1);
});
