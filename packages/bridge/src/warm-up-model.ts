import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ModelProviderConfig } from "@lookout/protocol";

/** The provider OpenCode's warm-up prompt names: answered on loopback by the bridge, never a real model. */
export const WARM_UP_PROVIDER_ID = "lookout-warm-up";
export const WARM_UP_MODEL_ID = "warm-up";
/** The warm-up's whole answer. */
export const WARM_UP_REPLY = "ok";
/** A warm-up request body larger than this is refused (OpenCode's first prompt is a few tens of KB). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface WarmUpModel {
  /** The provider entry for OpenCode's configuration (OpenAI-compatible, on loopback, with this start's key). */
  provider: ModelProviderConfig;
  /** How many completions it has answered. */
  completions(): number;
  close(): Promise<void>;
}

/**
 * A stand-in model for a warm-pool sandbox's OpenCode warm-up (`opencode-prime.ts`). OpenCode does
 * much of its first-use work only inside a real prompt's loop — the per-directory instance (its
 * snapshot repository, shell, file watcher, project state) and the model request path itself —
 * so the warm-up sends one whole prompt. This answers it: an OpenAI-compatible chat completion,
 * streamed or not, whose reply is "ok" with no tool call, so nothing in the work tree changes and
 * no model provider (or its key, or its bill) is involved.
 */
export async function startWarmUpModel(): Promise<WarmUpModel> {
  const key = randomBytes(24).toString("base64url");
  let completions = 0;
  const server = createServer((request, response) => {
    void answer(request, response, key).then((answered) => {
      if (answered) completions += 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    provider: {
      id: WARM_UP_PROVIDER_ID,
      kind: "openai-compatible",
      baseUrl: `http://127.0.0.1:${port}/v1`,
      apiKey: key,
      models: [WARM_UP_MODEL_ID],
    },
    completions: () => completions,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers one request; true when it was a completion. */
async function answer(request: IncomingMessage, response: ServerResponse, key: string): Promise<boolean> {
  const path = new URL(request.url ?? "/", "http://warm-up").pathname;
  if (request.method !== "POST" || path !== "/v1/chat/completions") {
    request.resume();
    refuse(response, 404, `The warm-up model answers only POST /v1/chat/completions, not ${request.method ?? "?"} ${path}.`);
    return false;
  }
  const presented = Buffer.from((request.headers.authorization ?? "").replace(/^Bearer\s+/i, ""));
  const expected = Buffer.from(key);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    request.resume();
    refuse(response, 401, "Send the warm-up model's key as the API key.");
    return false;
  }
  let body: unknown;
  try {
    body = JSON.parse(await readBody(request));
  } catch (error) {
    refuse(response, 400, error instanceof Error ? error.message : "The request body is not JSON.");
    return false;
  }
  const streamed = typeof body === "object" && body !== null && (body as { stream?: unknown }).stream === true;
  const base = { id: `warm-up-${randomBytes(6).toString("hex")}`, created: Math.floor(Date.now() / 1000), model: WARM_UP_MODEL_ID };
  const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
  if (!streamed) {
    const message = { role: "assistant", content: WARM_UP_REPLY };
    send(response, 200, { ...base, object: "chat.completion", choices: [{ index: 0, message, finish_reason: "stop" }], usage });
    return true;
  }
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const chunk = (choice: object, extra: object = {}) =>
    `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, ...choice }], ...extra })}\n\n`;
  response.write(chunk({ delta: { role: "assistant", content: WARM_UP_REPLY }, finish_reason: null }));
  response.write(chunk({ delta: {}, finish_reason: "stop" }, { usage }));
  response.end("data: [DONE]\n\n");
  return true;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`The request body is over ${MAX_BODY_BYTES} bytes.`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.once("error", reject);
  });
}

/** Refusals in the shape OpenAI-compatible SDKs read (`{ error: { message } }`). */
function refuse(response: ServerResponse, status: number, message: string): void {
  send(response, status, { error: { message, type: "invalid_request_error" } });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return void response.destroy();
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}
