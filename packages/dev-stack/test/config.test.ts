import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { copyWranglerConfig } from "../src/index.ts";

describe("copyWranglerConfig", () => {
  let sourceDir: string;
  let workDir: string;

  beforeEach(() => {
    sourceDir = mkdtempSync(join(tmpdir(), "lookout-config-source-"));
    workDir = mkdtempSync(join(tmpdir(), "lookout-config-copy-"));
  });

  afterEach(() => {
    rmSync(sourceDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });

  function source(text: string): string {
    const path = join(sourceDir, "wrangler.toml");
    writeFileSync(path, text);
    return path;
  }

  it("makes the paths absolute against the source's folder and keeps everything else", () => {
    const path = source(
      [
        'name = "w"',
        'main = "src/index.ts"',
        "[assets]",
        'directory = "web/dist"',
        "[[d1_databases]]",
        'migrations_dir = "migrations"',
        "[vars]",
        'A = "b"',
      ].join("\n"),
    );
    const copy = readFileSync(copyWranglerConfig(path, workDir), "utf8").split("\n");
    expect(copy).toEqual([
      'name = "w"',
      `main = ${JSON.stringify(join(sourceDir, "src/index.ts"))}`,
      "[assets]",
      `directory = ${JSON.stringify(join(sourceDir, "web/dist"))}`,
      "[[d1_databases]]",
      `migrations_dir = ${JSON.stringify(join(sourceDir, "migrations"))}`,
      "[vars]",
      'A = "b"',
    ]);
  });

  it("makes [alias] paths absolute and leaves aliases to package names alone", () => {
    const path = source(['main = "src/index.ts"', "[alias]", 'undici = "./shims/undici.cjs"', 'fs = "memfs"'].join("\n"));
    const copy = readFileSync(copyWranglerConfig(path, workDir), "utf8").split("\n");
    expect(copy.slice(1)).toEqual(["[alias]", `undici = ${JSON.stringify(join(sourceDir, "shims/undici.cjs"))}`, 'fs = "memfs"']);
  });

  it("drops whole tables and replaces the entry when asked", () => {
    const path = source(['main = "src/index.ts"', "[assets]", 'directory = "web/dist"', "[vars]", 'A = "b"'].join("\n"));
    const copy = readFileSync(copyWranglerConfig(path, workDir, { dropSections: ["assets"], main: "/elsewhere/entry.ts" }), "utf8");
    expect(copy.split("\n")).toEqual(['main = "/elsewhere/entry.ts"', "[vars]", 'A = "b"']);
  });

  it("refuses a config without a top-level main and writes nothing", () => {
    const path = source(["[vars]", 'main = "not-the-entry.ts"'].join("\n"));
    expect(() => copyWranglerConfig(path, workDir)).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
    expect(() => readFileSync(join(workDir, "wrangler.toml"))).toThrow();
  });
});
