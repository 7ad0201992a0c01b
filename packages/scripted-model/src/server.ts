import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { answerFor, completionOf, streamChunks } from "./completion";
import { builtinResponders, builtinScripts, fallbackScript } from "./builtin-scripts";
import { silentLogger, type Logger } from "./logger";
import { ChatCompletionRequest, latestUserText, openAiError, stepIndexOf, type OpenAiErrorBody } from "./openai";
import { planTurn, type PlannedTurn, Script, selectScript, type ScriptInput } from "./script";

/** Largest request body accepted, in bytes: agents resend whole conversations on every call. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** How many recent requests `requests` remembers. */
const RECORDED_REQUESTS = 200;

export interface ScriptedModelOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /**
   * When set, every request but `/health` must carry `Authorization: Bearer <token>`. The start
   * command sets one, so only the gateway's model proxy (which holds it) can use the offline model.
   */
  token?: string;
  /** Scripts tried before the built-ins (in order). */
  scripts?: readonly ScriptInput[];
  /** Whether the built-in scripts (and the built-in responders, tried first) are available after `scripts` (default true). */
  includeBuiltins?: boolean;
  /** Answer for requests no script matches; a plain-text explanation by default. */
  fallback?: ScriptInput;
  logger?: Logger;
}

/** What the server did with one chat request, for tests and debugging. */
export interface RecordedRequest {
  model: string;
  script: string;
  reason: "match" | "model" | "fallback";
  stepIndex: number;
  stream: boolean;
  toolsOffered: string[];
  latestUserText: string;
}

export interface ScriptedModel {
  /** Base URL including `/v1`, as OpenAI clients expect in `baseURL`. */
  url: string;
  port: number;
  requests: readonly RecordedRequest[];
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: OpenAiErrorBody,
  ) {
    super(body.error.message);
  }
}

export async function startScriptedModel(options: ScriptedModelOptions = {}): Promise<ScriptedModel> {
  const logger = options.logger ?? silentLogger;
  const scripts: Script[] = [
    ...(options.scripts ?? []).map((script) => Script.parse(script)),
    ...(options.includeBuiltins === false ? [] : builtinScripts),
  ];
  const fallback = options.fallback ? Script.parse(options.fallback) : fallbackScript;
  const responders = options.includeBuiltins === false ? [] : builtinResponders;
  const requests: RecordedRequest[] = [];

  /** A responder's computed answer, else the chosen script's turn. */
  const play = (
    userText: string,
    stepIndex: number,
    model: string,
  ): { name: string; reason: RecordedRequest["reason"]; turn: PlannedTurn } => {
    const responder = responders.find((candidate) => candidate.matches(userText));
    if (responder) return { name: responder.name, reason: "match", turn: { kind: "final", text: responder.answer(userText) } };
    const selection = selectScript(scripts, fallback, userText, model);
    return { name: selection.script.name, reason: selection.reason, turn: planTurn(selection.script, stepIndex, selection.captures) };
  };

  const handleChat = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new HttpError(400, openAiError("We could not parse the JSON body of your request.", "invalid_request_error", "invalid_json"));
    }
    const parsed = ChatCompletionRequest.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue ? issue.path.map(String).join(".") : null;
      throw new HttpError(
        400,
        openAiError(
          `Invalid request: ${issue?.message ?? "malformed body"}${param ? ` (at ${param})` : ""}.`,
          "invalid_request_error",
          "invalid_value",
          param,
        ),
      );
    }
    const request = parsed.data;
    logger.debug("chat request body", { body: request });
    const userText = latestUserText(request.messages);
    const stepIndex = stepIndexOf(request.messages);
    const { name, reason, turn } = play(userText, stepIndex, request.model);
    const toolsOffered = (request.tools ?? []).flatMap((tool) => (tool.function ? [tool.function.name] : []));
    const stream = request.stream === true;
    requests.push({
      model: request.model,
      script: name,
      reason,
      stepIndex,
      stream,
      toolsOffered,
      latestUserText: userText,
    });
    if (requests.length > RECORDED_REQUESTS) requests.shift();
    logger.info("chat request", {
      model: request.model,
      script: name,
      reason,
      stepIndex,
      stream,
      tools: toolsOffered.length,
    });

    if (turn.kind === "step" && turn.step.error) {
      const { status, message, type } = turn.step.error;
      throw new HttpError(status, openAiError(message, type));
    }
    const answer = answerFor(turn, {
      model: request.model,
      promptChars: JSON.stringify(request.messages).length,
      toolsOffered: toolsOffered.length > 0,
    });
    if (!stream) {
      sendJson(res, 200, completionOf(answer));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    res.flushHeaders();
    // The client hangs up when the agent is stopped; stop writing instead of erroring.
    let closed = false;
    res.on("close", () => {
      closed = true;
    });
    const chunks = streamChunks(answer, request.stream_options?.include_usage === true);
    for (const [index, chunk] of chunks.entries()) {
      if (index > 0 && answer.delayMs > 0) await delay(answer.delayMs);
      if (closed) return;
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    }
    res.end("data: [DONE]\n\n");
  };

  const expected = options.token ? createHash("sha256").update(options.token).digest() : undefined;
  const authorized = (req: IncomingMessage): boolean => {
    if (!expected) return true;
    const header = req.headers.authorization ?? "";
    const presented = /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, "") : "";
    return timingSafeEqual(createHash("sha256").update(presented).digest(), expected);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "");
    const route = async (): Promise<void> => {
      if (path !== "/health" && !authorized(req)) {
        req.resume();
        throw new HttpError(
          401,
          openAiError("This offline model needs its token as a bearer token.", "invalid_request_error", "invalid_api_key"),
        );
      }
      if (path === "/v1/chat/completions" || path === "/chat/completions") {
        if (req.method !== "POST")
          throw new HttpError(405, openAiError(`Use POST for ${path}.`, "invalid_request_error", "method_not_allowed"));
        await handleChat(req, res);
        return;
      }
      if (path === "/v1/models" || path === "/models") {
        sendJson(res, 200, {
          object: "list",
          data: [...scripts, fallback].map((script) => ({ id: script.name, object: "model", created: 0, owned_by: "lookout-scripted" })),
        });
        return;
      }
      if (path === "/health") {
        sendJson(res, 200, { ok: true });
        return;
      }
      throw new HttpError(404, openAiError(`Unknown route ${req.method ?? "GET"} ${path}.`, "invalid_request_error", "unknown_url"));
    };
    route().catch((error: unknown) => {
      if (error instanceof HttpError) {
        logger.warn("request refused", { path, status: error.status, message: error.message });
        if (!res.headersSent) sendJson(res, error.status, error.body);
        else res.end();
        return;
      }
      logger.error("request failed", { path, error: error instanceof Error ? error.message : String(error) });
      if (!res.headersSent) sendJson(res, 500, openAiError("The scripted model failed to answer.", "server_error"));
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? "127.0.0.1";
  const urlHost = host.includes(":") ? `[${host}]` : host;
  logger.info("scripted model listening", { url: `http://${urlHost}:${port}/v1`, scripts: scripts.map((s) => s.name) });
  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (part: Buffer) => {
      size += part.byteLength;
      if (size > MAX_BODY_BYTES) {
        reject(
          new HttpError(
            413,
            openAiError(`Request bodies are limited to ${MAX_BODY_BYTES} bytes.`, "invalid_request_error", "body_too_large"),
          ),
        );
        req.destroy();
        return;
      }
      parts.push(part);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
