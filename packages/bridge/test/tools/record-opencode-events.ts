/**
 * Records the raw events and final messages of one OpenCode run against the scripted model, to
 * refresh test/fixtures after an opencode upgrade:
 *
 *   pnpm exec tsx test/tools/record-opencode-events.ts "demo" test/fixtures/opencode-demo-events.json
 *   pnpm exec tsx test/tools/record-opencode-events.ts "slow stream" test/fixtures/opencode-abort-events.json 3000
 *
 * The third argument aborts the run after that many milliseconds.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startScriptedModel } from "@lookout/scripted-model";
import { createOpencodeClient } from "@opencode-ai/sdk/v2/client";
import { createLogger } from "../../src/logger";
import { buildOpencodeConfig } from "../../src/opencode-config";
import { isRunFinalised, MessageWithParts } from "../../src/opencode-events";
import { startOpencodeServer } from "../../src/opencode-server";
import { z } from "zod";

const [text = "demo", out = "events.json", abortAfter] = process.argv.slice(2);
const logger = createLogger("record", "info");
const scratch = mkdtempSync(join(tmpdir(), "lookout-record-"));
const repo = join(scratch, "repo");
execFileSync("git", ["init", "--quiet", "--initial-branch=main", repo]);
writeFileSync(join(repo, "README.md"), "# Spike repo\n");
execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], { cwd: repo });
execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init"], { cwd: repo });

const model = await startScriptedModel();
const server = await startOpencodeServer({
  bin: join(dirname(createRequire(import.meta.url).resolve("opencode-ai/package.json")), "bin", "opencode.exe"),
  cwd: repo,
  home: join(scratch, "home"),
  config: buildOpencodeConfig({
    model: "scripted/demo",
    modelProviders: [{ id: "scripted", kind: "openai-compatible", baseUrl: model.url, models: ["demo"] }],
  }),
  gitIdentity: { name: "Lookout", email: "bot@lookout.local" },
  startTimeoutMs: 60_000,
  logger,
});
try {
  const client = createOpencodeClient({ baseUrl: server.url, directory: repo, headers: { authorization: server.authorization } });
  const session = z.object({ id: z.string() }).parse((await client.session.create({ title: "recording" })).data);
  const events: unknown[] = [];
  const { stream } = await client.event.subscribe();
  let sawBusy = false;
  const idle = (async () => {
    for await (const event of stream) {
      events.push(event);
      const status = z
        .object({ type: z.literal("session.status"), properties: z.object({ status: z.object({ type: z.string() }) }) })
        .safeParse(event);
      if (status.success && status.data.properties.status.type !== "idle") sawBusy = true;
      if (status.success && status.data.properties.status.type === "idle" && sawBusy) return;
    }
  })();
  await client.session.promptAsync({
    sessionID: session.id,
    model: { providerID: "scripted", modelID: "demo" },
    parts: [{ type: "text", text }],
  });
  if (abortAfter) setTimeout(() => void client.session.abort({ sessionID: session.id }), Number(abortAfter));
  await idle;
  let messages = z.array(MessageWithParts).parse((await client.session.messages({ sessionID: session.id })).data);
  for (let i = 0; i < 50 && !isRunFinalised(messages); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    messages = z.array(MessageWithParts).parse((await client.session.messages({ sessionID: session.id })).data);
  }
  writeFileSync(out, JSON.stringify(events, null, 1));
  writeFileSync(out.replace(/events\.json$/, "messages.json"), JSON.stringify(messages, null, 1));
  logger.info("recorded", { events: events.length, out });
} finally {
  await server.stop();
  await model.close();
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
