import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { opencodeConfigPackageJson, SANDBOX_IMAGE, type SandboxImageDefinition } from "@lookout/sandbox-image";
import { LocalProvider } from "../src/index";
import { isOpencodeConfigPrepared, prepareOpencodeConfig } from "../src/local/opencode-config";
import { readIfExists, startUplinkStub, tempDir, waitFor } from "./helpers";

/**
 * A stand-in for the npm CLI: installs each dependency of `<prefix>/package.json` as a package
 * directory holding its version, logs each call, and fails with npm's kind of message when
 * FAKE_NPM_FAIL is set. The real install is what `npm start` does once per machine.
 */
const FAKE_NPM = `#!/usr/bin/env node
const fs = require("node:fs"), path = require("node:path");
const prefix = process.argv[process.argv.indexOf("--prefix") + 1];
fs.appendFileSync(process.env.FAKE_NPM_LOG, process.argv.slice(2).join(" ") + "\\n");
if (process.env.FAKE_NPM_FAIL) { process.stderr.write("npm error code E404\\nnpm error 404 Not Found\\n"); process.exit(1); }
const { dependencies } = JSON.parse(fs.readFileSync(path.join(prefix, "package.json"), "utf8"));
for (const [name, version] of Object.entries(dependencies)) {
  const dir = path.join(prefix, "node_modules", name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version }));
}
`;

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

function fixture() {
  const root = tempDir("opencode-config");
  dirs.push(root);
  const npm = join(root, "npm");
  writeFileSync(npm, FAKE_NPM, { mode: 0o755 });
  const log = join(root, "npm.log");
  writeFileSync(log, "");
  return {
    root,
    npm,
    log,
    target: join(root, "image", "opencode-config"),
    calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean),
  };
}

function writableEntries(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isSymbolicLink() && (statSync(path).mode & 0o222) !== 0) found.push(path);
  }
  return found;
}

describe("preparing OpenCode's config directory for local sandboxes", () => {
  it("installs the image's packages once, as OpenCode lays them out, read-only", async () => {
    const { npm, log, target, calls } = fixture();
    await prepareOpencodeConfig(target, SANDBOX_IMAGE, { npm, env: { FAKE_NPM_LOG: log } });

    expect(readFileSync(join(target, "package.json"), "utf8")).toBe(opencodeConfigPackageJson(SANDBOX_IMAGE));
    expect(readFileSync(join(target, ".gitignore"), "utf8")).toBe(SANDBOX_IMAGE.opencodeConfig.gitignore);
    const plugin = JSON.parse(readFileSync(join(target, "node_modules", "@opencode-ai", "plugin", "package.json"), "utf8")) as {
      version: string;
    };
    expect(plugin.version).toBe(SANDBOX_IMAGE.opencode.version);
    expect(calls()).toHaveLength(1);
    expect(calls()[0]).toContain("--ignore-scripts");
    expect(writableEntries(target)).toEqual([]);
    expect((statSync(target).mode & 0o222) === 0).toBe(true);

    // A second start (or a second gateway) finds it prepared and runs nothing.
    await prepareOpencodeConfig(target, SANDBOX_IMAGE, { npm, env: { FAKE_NPM_LOG: log } });
    expect(calls()).toHaveLength(1);
  });

  it("prepares again when the image's packages change, replacing the old directory", async () => {
    const { npm, log, target, calls } = fixture();
    await prepareOpencodeConfig(target, SANDBOX_IMAGE, { npm, env: { FAKE_NPM_LOG: log } });
    const next: SandboxImageDefinition = {
      ...SANDBOX_IMAGE,
      opencode: { ...SANDBOX_IMAGE.opencode, version: "9.9.9" },
      opencodeConfig: { ...SANDBOX_IMAGE.opencodeConfig, dependencies: { "@opencode-ai/plugin": "9.9.9" } },
    };
    expect(isOpencodeConfigPrepared(target, next)).toBe(false);
    await prepareOpencodeConfig(target, next, { npm, env: { FAKE_NPM_LOG: log } });
    expect(calls()).toHaveLength(2);
    expect(isOpencodeConfigPrepared(target, next)).toBe(true);
    expect(isOpencodeConfigPrepared(target, SANDBOX_IMAGE)).toBe(false);
    expect(readFileSync(join(target, "node_modules", "@opencode-ai", "plugin", "package.json"), "utf8")).toContain("9.9.9");
  });

  it("fails with npm's reason and leaves nothing half-installed", async () => {
    const { root, npm, log, target } = fixture();
    await expect(prepareOpencodeConfig(target, SANDBOX_IMAGE, { npm, env: { FAKE_NPM_LOG: log, FAKE_NPM_FAIL: "1" } })).rejects.toThrow(
      /Could not prepare OpenCode's config directory .*E404/,
    );
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(root, "image"))).toEqual([]);
  });

  it("survives two preparations at once: both end with the same complete directory", async () => {
    const { root, npm, log, target } = fixture();
    await Promise.all([
      prepareOpencodeConfig(target, SANDBOX_IMAGE, { npm, env: { FAKE_NPM_LOG: log } }),
      prepareOpencodeConfig(target, SANDBOX_IMAGE, { npm, env: { FAKE_NPM_LOG: log } }),
    ]);
    expect(isOpencodeConfigPrepared(target, SANDBOX_IMAGE)).toBe(true);
    expect(readdirSync(join(root, "image"))).toEqual(["opencode-config"]);
  });
});

describe("a local sandbox's OpenCode config directory", () => {
  it("is the prepared one, bound read-only: OpenCode's plugin is there and nothing of it lands in the sandbox's home", async () => {
    const { root, npm, log, target } = fixture();
    await prepareOpencodeConfig(target, SANDBOX_IMAGE, { npm, env: { FAKE_NPM_LOG: log } });
    const provider = await LocalProvider.start({
      dataDir: join(root, "data"),
      bridgeBundle: join(root, "no-bridge.mjs"),
      opencodeBin: undefined,
      opencodeConfigDir: target,
      command: ["/bin/sh", "-c", 'eval "$PROBE_SCRIPT"'],
    });
    const uplink = await startUplinkStub(root);
    try {
      const script = [
        `cat ${SANDBOX_IMAGE.opencodeConfig.dir}/node_modules/@opencode-ai/plugin/package.json > /workspace/plugin.json`,
        `(touch ${SANDBOX_IMAGE.opencodeConfig.dir}/new-file 2>/dev/null; echo $? > /workspace/touch)`,
        `(rm -rf ${SANDBOX_IMAGE.opencodeConfig.dir}/node_modules 2>/dev/null; echo $? > /workspace/rm)`,
        "echo done > /workspace/done",
      ].join("; ");
      await provider.create({
        sandboxId: "prepared",
        env: { PROBE_SCRIPT: script },
        source: { kind: "image" },
        timeoutMs: 60_000,
        uplinkSocket: uplink.path,
      });
      const workspace = join(provider.sandboxDir("prepared"), "workspace");
      await waitFor(() => readIfExists(join(workspace, "done")), "the probe to finish");
      expect(JSON.parse(readFileSync(join(workspace, "plugin.json"), "utf8"))).toEqual({
        name: "@opencode-ai/plugin",
        version: SANDBOX_IMAGE.opencode.version,
      });
      expect(readFileSync(join(workspace, "touch"), "utf8").trim()).not.toBe("0");
      expect(readFileSync(join(workspace, "rm"), "utf8").trim()).not.toBe("0");
      expect(isOpencodeConfigPrepared(target, SANDBOX_IMAGE)).toBe(true);
      // Only the bind's mount point exists in the sandbox's own home on the host.
      expect(readdirSync(join(provider.sandboxDir("prepared"), "home", ".config", "opencode"))).toEqual([]);
      await provider.terminate("prepared");
    } finally {
      await provider.close();
      await uplink.close();
    }
  });
});
