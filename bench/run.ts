/**
 * Runs the benchmarks: `pnpm bench` for all of them, `pnpm bench fanout|replay|session-start|webhook-ack|slack-ack` for some.
 * Each benchmark prints its tables and replaces its own section of `bench/RESULTS.md`
 * (`--no-write` leaves the file alone; `--keep` keeps the work directory with the servers' logs).
 * `LOOKOUT_BENCH_ENTRY=/path/to/index.ts` runs another build of the control-plane Worker (a patched
 * copy of `apps/control-plane/src`) under the same config, to A/B a change.
 */
import { join } from "node:path";
import { fanout } from "./fanout.ts";
import { type Benchmark, BenchContext } from "./lib/context.ts";
import { describeMachine, renderMachine } from "./lib/machine.ts";
import { BENCH_ROOT } from "./lib/paths.ts";
import { writeSection } from "./lib/results.ts";
import { renderTable } from "./lib/table.ts";
import { replayBenchmark } from "./replay.ts";
import { sessionStart } from "./session-start.ts";
import { slackAck } from "./slack-ack.ts";
import { webhookAck } from "./webhook-ack.ts";

const BENCHMARKS: readonly Benchmark[] = [fanout, replayBenchmark, sessionStart, webhookAck, slackAck];
const RESULTS_FILE = join(BENCH_ROOT, "RESULTS.md");

function say(line: string): void {
  process.stderr.write(`\x1b[2m[bench]\x1b[0m ${line}\n`);
}

function parseArguments(argv: readonly string[]): { selected: Benchmark[]; write: boolean; keep: boolean } {
  const flags = new Set(argv.filter((argument) => argument.startsWith("--")));
  for (const flag of flags)
    if (flag !== "--no-write" && flag !== "--keep") throw new Error(`unknown option ${flag}; use --no-write or --keep`);
  const names = argv.filter((argument) => !argument.startsWith("--"));
  const selected = names.length === 0 ? [...BENCHMARKS] : names.map((name) => BENCHMARKS.find((benchmark) => benchmark.name === name));
  const unknown = names.filter((_, index) => selected[index] === undefined);
  if (unknown.length > 0)
    throw new Error(`unknown benchmark ${unknown.join(", ")}; choose from ${BENCHMARKS.map((benchmark) => benchmark.name).join(", ")}`);
  return { selected: selected.filter((benchmark) => benchmark !== undefined), write: !flags.has("--no-write"), keep: flags.has("--keep") };
}

async function main(): Promise<number> {
  const { selected, write, keep } = parseArguments(process.argv.slice(2));
  const context = new BenchContext(say, process.env.LOOKOUT_BENCH_ENTRY || undefined);
  const machine = describeMachine(context.workDir);
  let failed = false;
  const stop = () => {
    say("interrupted; stopping servers");
    void context.close({ keepWorkDir: keep }).finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    for (const benchmark of selected) {
      say(`running ${benchmark.name}`);
      const tables = await benchmark.run(context);
      const rendered = tables.map(renderTable).join("\n\n");
      process.stdout.write(`\n${rendered}\n\n`);
      if (write) {
        writeSection(
          RESULTS_FILE,
          benchmark.name,
          [`## ${benchmark.title} (\`pnpm bench ${benchmark.name}\`)`, "", renderMachine(machine), "", benchmark.method, "", rendered].join(
            "\n",
          ),
        );
      }
    }
    if (write) say(`results written to ${RESULTS_FILE}`);
  } catch (error) {
    failed = true;
    say(error instanceof Error ? (error.stack ?? error.message) : String(error));
  } finally {
    await context.close({ keepWorkDir: keep || failed });
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
