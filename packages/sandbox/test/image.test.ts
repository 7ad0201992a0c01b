import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildSteps, opencodeConfigCommands, opencodeConfigPackageJson, renderDockerfile, SANDBOX_IMAGE } from "@lookout/sandbox-image";
import { daytonaImage, fileWriteSteps, vercelBootstrapScript } from "../src/index";

const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");

describe("the sandbox image definition", () => {
  it("matches the checked-in Dockerfile", () => {
    expect(readFileSync(join(REPO_ROOT, "infra", "sandbox-image", "Dockerfile"), "utf8")).toBe(renderDockerfile(SANDBOX_IMAGE));
  });

  it("becomes a Daytona image spec with the same steps and the bridge as a local file", () => {
    const dockerfile = daytonaImage(SANDBOX_IMAGE, REPO_ROOT).dockerfile;
    expect(dockerfile).toContain(`FROM ${SANDBOX_IMAGE.baseImage}`);
    for (const step of buildSteps(SANDBOX_IMAGE)) expect(dockerfile).toContain(step);
    expect(dockerfile).toMatch(/COPY .*\/opt\/lookout\/bridge\.mjs/);
  });

  it("becomes a Vercel bootstrap script that installs the same tools", () => {
    const script = vercelBootstrapScript(SANDBOX_IMAGE);
    expect(script).toContain("dnf install -y ca-certificates git openssh-clients python3");
    expect(script).toContain("npm install -g opencode-ai@1.18.33");
    expect(script).toContain("/opt/lookout/opencode");
  });

  it("prepares OpenCode's config directory at build time: its plugin at OpenCode's own version, OpenCode's files byte for byte", () => {
    expect(SANDBOX_IMAGE.opencodeConfig.dependencies).toEqual({ "@opencode-ai/plugin": SANDBOX_IMAGE.opencode.version });
    expect(SANDBOX_IMAGE.opencodeConfig.dir).toBe(`${SANDBOX_IMAGE.user.home}/.config/opencode`);
    const commands = opencodeConfigCommands(SANDBOX_IMAGE);
    expect(buildSteps(SANDBOX_IMAGE)).toContain(`RUN ${commands.join(" && ")}`);
    const script = vercelBootstrapScript(SANDBOX_IMAGE);
    // On Vercel after the home's chown, so the directory stays root's and read-only to the agent.
    expect(script.indexOf(commands[0]!)).toBeGreaterThan(script.indexOf("chown -R vercel-sandbox"));
    for (const command of commands) expect(script).toContain(command);
    // The shell steps write the same bytes as the local provider does (npm and chown left out).
    const dir = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
    const files = commands
      .filter((command) => !command.startsWith("npm ") && !command.startsWith("chown "))
      .map((command) => command.replaceAll(SANDBOX_IMAGE.opencodeConfig.dir, `${dir}/config`));
    execFileSync("sh", ["-e"], { input: files.join("\n") });
    expect(readFileSync(`${dir}/config/package.json`, "utf8")).toBe(opencodeConfigPackageJson(SANDBOX_IMAGE));
    expect(readFileSync(`${dir}/config/.gitignore`, "utf8")).toBe(SANDBOX_IMAGE.opencodeConfig.gitignore);
    execFileSync("rm", ["-rf", dir]);
  });

  it("writes files into Modal images as base64 build steps that reproduce the bytes", () => {
    const content = Buffer.from(Array.from({ length: 120_000 }, (_, i) => i % 251));
    const steps = fileWriteSteps("/opt/lookout/bridge.mjs", content, 0o644);
    expect(steps.length).toBeGreaterThan(3);
    // Replay the RUN lines in a shell rooted in a temp dir to prove they rebuild the file exactly.
    const dir = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
    const script = steps
      .map((step) =>
        step
          .replace(/^RUN /, "")
          .replaceAll("/tmp/lookout-file-", `${dir}/lookout-file-`)
          .replaceAll(" /opt/lookout", ` ${dir}/opt/lookout`),
      )
      .join("\n");
    execFileSync("sh", [], { input: script });
    expect(readFileSync(`${dir}/opt/lookout/bridge.mjs`).equals(content)).toBe(true);
    execFileSync("rm", ["-rf", dir]);
  });
});
