import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startScriptedModel, type ScriptedModel } from "@lookout/scripted-model";
import { createOpencodeClient } from "@opencode-ai/sdk/v2/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger";
import { buildOpencodeConfig } from "../src/opencode-config";
import { primeOpencode } from "../src/opencode-prime";
import { startOpencodeServer, type OpencodeServer } from "../src/opencode-server";
import { startWarmUpModel, WARM_UP_MODEL_ID, WARM_UP_PROVIDER_ID, type WarmUpModel } from "../src/warm-up-model";

/**
 * The warm-pool sandbox's OpenCode warm-up against the real `opencode serve`: one whole prompt,
 * answered by the bridge's loopback warm-up model, and otherwise nothing a session would notice —
 * no call to a real model (a warm sandbox waits for hours with a real provider's key behind it),
 * no session left in OpenCode's list, no change in the work tree.
 */
const OPENCODE_BIN = join(dirname(createRequire(import.meta.url).resolve("opencode-ai/package.json")), "bin", "opencode.exe");
const logger = createLogger("test", "error");
let scratch: string;
let model: ScriptedModel;
let warmUp: WarmUpModel;
let server: OpencodeServer;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "lookout-prime-"));
  const repo = join(scratch, "repo");
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", repo]);
  writeFileSync(join(repo, "README.md"), "# Warm-up\n");
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], { cwd: repo });
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init"], { cwd: repo });
  model = await startScriptedModel();
  warmUp = await startWarmUpModel();
  server = await startOpencodeServer({
    bin: OPENCODE_BIN,
    cwd: repo,
    home: join(scratch, "home"),
    config: buildOpencodeConfig({
      model: "scripted/demo",
      modelProviders: [{ id: "scripted", kind: "openai-compatible", baseUrl: model.url, models: ["demo"] }, warmUp.provider],
    }),
    gitIdentity: { name: "Lookout", email: "bot@lookout.local" },
    startTimeoutMs: 60_000,
    logger,
  });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await model?.close();
  await warmUp?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("warming up a pool sandbox's OpenCode", () => {
  it("runs one whole prompt on the warm-up model, calls no real model, and leaves no session and no change behind", async () => {
    const client = createOpencodeClient({
      baseUrl: server.url,
      directory: join(scratch, "repo"),
      headers: { authorization: server.authorization },
    });
    const before = (await client.session.list()).data ?? [];
    const warmUpModel = { providerID: WARM_UP_PROVIDER_ID, modelID: WARM_UP_MODEL_ID };
    expect(await primeOpencode(server, join(scratch, "repo"), warmUpModel, logger)).toBe(true);
    expect(warmUp.completions()).toBeGreaterThanOrEqual(1);
    expect(model.requests).toEqual([]);
    expect(execFileSync("git", ["status", "--porcelain"], { cwd: join(scratch, "repo"), encoding: "utf8" })).toBe("");
    expect((await client.session.list()).data ?? []).toHaveLength(before.length);
  }, 60_000);
});
