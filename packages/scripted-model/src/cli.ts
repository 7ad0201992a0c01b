#!/usr/bin/env node
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadScripts } from "./load-scripts";
import { createLogger, type LogLevel } from "./logger";
import { startScriptedModel } from "./server";

/** Port the CLI listens on when none is given. */
const DEFAULT_PORT = 8789;

const USAGE = `Usage: scripted-model [--port 8789] [--host 127.0.0.1] [--scripts file.json|module.ts] [--log-level info]
Serves an OpenAI-compatible API (/v1/chat/completions, /v1/models) that plays scripts.
With LOOKOUT_SCRIPTED_MODEL_TOKEN set, every request needs it as a bearer token.`;

const Args = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  host: z.string().min(1).default("127.0.0.1"),
  scripts: z.string().min(1).optional(),
  "log-level": z.enum(["debug", "info", "warn", "error"]).default("info"),
  help: z.boolean().default(false),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      scripts: { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const parsed = Args.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`${z.prettifyError(parsed.error)}\n${USAGE}\n`);
    process.exit(2);
  }
  const args = parsed.data;
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const logLevel: LogLevel = args["log-level"];
  const logger = createLogger("scripted-model", logLevel);
  const scripts = args.scripts ? await loadScripts(args.scripts) : [];
  // The token comes from the environment, never the command line (which other users can read).
  const token = process.env.LOOKOUT_SCRIPTED_MODEL_TOKEN || undefined;
  const model = await startScriptedModel({ port: args.port, host: args.host, scripts, logger, ...(token ? { token } : {}) });
  process.stdout.write(`scripted model listening on ${model.url}\n`);
  const shutdown = (): void => {
    void model.close().then(() => process.exit(0));
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
