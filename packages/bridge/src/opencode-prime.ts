import { createOpencodeClient } from "@opencode-ai/sdk/v2/client";
import { errorMessage, type Logger } from "./logger";
import type { OpencodeServer } from "./opencode-server";

/** How long the warm-up may take before the sandbox is reported warm anyway. */
const PRIME_TIMEOUT_MS = 15_000;

/**
 * Warms a freshly started `opencode serve` before a warm-pool sandbox reports itself warm, so the
 * claiming session's first prompt does not pay for OpenCode's own first-use work: loading its
 * providers, agents, tools, commands and the project's state, then one whole prompt, which is the
 * only thing that builds the directory's instance (snapshot repository, shell, file watcher,
 * project state) and loads the model request path. The prompt names `warmUp`, the bridge's
 * loopback stand-in (`warm-up-model.ts`), so no model provider is called; its session is deleted.
 * Measured on this machine (fresh server, the offline model): first token 1.6 s after the prompt
 * with no warm-up, 0.8 s after a `noReply` message, 0.1 s after this (ADR 0012).
 * Best effort: a failure or a slow answer is logged and the sandbox is still warm. Returns whether
 * the whole warm-up ran.
 */
export async function primeOpencode(
  server: OpencodeServer,
  directory: string,
  warmUp: { providerID: string; modelID: string },
  logger: Logger,
): Promise<boolean> {
  const started = Date.now();
  const signal = AbortSignal.timeout(PRIME_TIMEOUT_MS);
  const client = createOpencodeClient({ baseUrl: server.url, directory, headers: { authorization: server.authorization } });
  const options = { signal };
  try {
    const answers = await Promise.all([
      client.config.providers(undefined, options),
      client.config.get(undefined, options),
      client.provider.list(undefined, options),
      client.app.agents(undefined, options),
      client.tool.ids(undefined, options),
      client.command.list(undefined, options),
      client.mcp.status(undefined, options),
      client.project.current(undefined, options),
      client.path.get(undefined, options),
      client.vcs.get(undefined, options),
      client.file.status(undefined, options),
    ]);
    const refused = answers.find((answer) => answer.error !== undefined);
    if (refused) throw new Error(`OpenCode refused a warm-up request: ${errorMessage(refused.error)}`);
    const created = await client.session.create({ title: "Lookout warm-up" }, options);
    const sessionID = (created.data as { id?: unknown } | undefined)?.id;
    if (typeof sessionID !== "string") throw new Error(`OpenCode created no warm-up session: ${errorMessage(created.error)}`);
    const prompted = await client.session.prompt({ sessionID, model: warmUp, parts: [{ type: "text", text: "Reply with ok." }] }, options);
    const deleted = await client.session.delete({ sessionID }, options);
    if (prompted.error !== undefined || deleted.error !== undefined) {
      throw new Error(`OpenCode refused the warm-up session: ${errorMessage(prompted.error ?? deleted.error)}`);
    }
    // A failed model call still answers the prompt, with the error on the assistant's message.
    const failure = (prompted.data as { info?: { error?: unknown } } | undefined)?.info?.error;
    if (failure !== undefined) throw new Error(`the warm-up prompt failed: ${errorMessage(failure)}`);
    logger.info("opencode warmed up", { ms: Date.now() - started });
    return true;
  } catch (error) {
    logger.warn("opencode warm-up did not finish; the sandbox is warm without it", {
      ms: Date.now() - started,
      error: errorMessage(error),
    });
    return false;
  }
}
