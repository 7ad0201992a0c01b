import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BaselineTarget } from "./baseline.ts";
import { LookoutTarget } from "./lookout.ts";
import type { Table } from "./table.ts";

/**
 * What benchmarks share in one run: a temporary work directory and the stacks under test, each
 * started on first use and stopped once at the end, so several benchmarks pay for one startup.
 */
export class BenchContext {
  readonly workDir = mkdtempSync(join(tmpdir(), "lookout-bench-"));
  private lookoutStack: Promise<LookoutTarget> | null = null;
  private baselineStack: Promise<BaselineTarget> | null = null;
  private closing: Promise<void> | null = null;

  /** `controlPlaneEntry` benchmarks another build of the control-plane Worker (see run.ts). */
  constructor(
    private readonly log: (line: string) => void,
    private readonly controlPlaneEntry?: string,
  ) {}

  say(line: string): void {
    this.log(line);
  }

  lookout(): Promise<LookoutTarget> {
    const what = `the control plane (wrangler's dev server${this.controlPlaneEntry ? `, entry ${this.controlPlaneEntry}` : ""}) and a fake sandbox gateway`;
    this.lookoutStack ??= this.starting(what, () => LookoutTarget.start(join(this.workDir, "lookout"), this.controlPlaneEntry));
    return this.lookoutStack;
  }

  baseline(): Promise<BaselineTarget> {
    this.baselineStack ??= this.starting("the baseline Durable Object (wrangler's dev server)", () =>
      BaselineTarget.start(join(this.workDir, "baseline")),
    );
    return this.baselineStack;
  }

  /** Stops every stack that was started; the work directory (logs, state) is kept when asked. Idempotent: the first call decides. */
  close(options: { keepWorkDir: boolean }): Promise<void> {
    this.closing ??= this.stopAll(options.keepWorkDir);
    return this.closing;
  }

  private async stopAll(keepWorkDir: boolean): Promise<void> {
    const stacks = [this.lookoutStack, this.baselineStack].filter((stack) => stack !== null);
    for (const stack of await Promise.allSettled(stacks)) {
      if (stack.status === "fulfilled") await stack.value.stop();
    }
    if (keepWorkDir) this.log(`logs and state kept in ${this.workDir}`);
    else rmSync(this.workDir, { recursive: true, force: true });
  }

  private async starting<T>(what: string, start: () => Promise<T>): Promise<T> {
    this.log(`starting ${what}`);
    const started = performance.now();
    const value = await start();
    this.log(`started ${what} in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    return value;
  }
}

/** A benchmark: measures, then returns its result tables (printed and written to RESULTS.md). */
export interface Benchmark {
  name: string;
  title: string;
  /** One paragraph on what is measured and how, for RESULTS.md. */
  method: string;
  run(context: BenchContext): Promise<Table[]>;
}
