import { writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadScripts, startScriptedModel, type ScriptedModel } from "../src/index";

/** Chunks as a client sees them, validated so the assertions read typed fields. */
const Chunk = z.object({
  id: z.string(),
  object: z.literal("chat.completion.chunk"),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number(),
      delta: z.object({
        role: z.literal("assistant").optional(),
        content: z.string().optional(),
        reasoning_content: z.string().optional(),
        tool_calls: z
          .array(
            z.object({
              index: z.number(),
              id: z.string().optional(),
              type: z.literal("function").optional(),
              function: z.object({ name: z.string().optional(), arguments: z.string() }),
            }),
          )
          .optional(),
      }),
      finish_reason: z.enum(["stop", "tool_calls", "length"]).nullable(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() }).nullish(),
});
type Chunk = z.infer<typeof Chunk>;

const ErrorBody = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

let model: ScriptedModel;

beforeAll(async () => {
  model = await startScriptedModel({
    scripts: [
      {
        name: "two-tools",
        match: "^two tools$",
        steps: [
          {
            text: "Reading two files.",
            toolCalls: [
              { name: "read", arguments: { filePath: "a.txt" } },
              { name: "read", arguments: { filePath: "b.txt" } },
            ],
            usage: { promptTokens: 11, completionTokens: 7 },
          },
        ],
        finalText: "Both read.",
      },
    ],
  });
});

afterAll(async () => {
  await model.close();
});

async function post(body: unknown): Promise<Response> {
  return fetch(`${model.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Streams a request and parses the response with a real SSE parser. */
async function stream(body: Record<string, unknown>): Promise<{ chunks: Chunk[]; done: boolean; contentType: string | null }> {
  const response = await post({ ...body, stream: true });
  expect(response.status).toBe(200);
  if (!response.body) throw new Error("no body");
  const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  const chunks: Chunk[] = [];
  let done = false;
  for await (const event of events) {
    expect(done).toBe(false);
    if (event.data === "[DONE]") {
      done = true;
      continue;
    }
    chunks.push(Chunk.parse(JSON.parse(event.data)));
  }
  return { chunks, done, contentType: response.headers.get("content-type") };
}

const contentOf = (chunks: Chunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");

const user = (content: string) => ({ role: "user", content });
const READ_TOOL = { type: "function", function: { name: "read", parameters: { type: "object" } } };

describe("streaming", () => {
  it("streams a role delta, content deltas, a stop finish and [DONE], like OpenAI", async () => {
    const { chunks, done, contentType } = await stream({ model: "scripted", messages: [user("echo hello there, streaming world")] });
    expect(contentType).toMatch(/^text\/event-stream/);
    expect(done).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    const contentChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(contentChunks.length).toBeGreaterThan(1);
    expect(contentOf(chunks)).toBe("hello there, streaming world");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it("ends with a usage chunk without choices when stream_options.include_usage is set", async () => {
    const { chunks } = await stream({
      model: "scripted",
      messages: [user("two tools")],
      tools: [READ_TOOL],
      stream_options: { include_usage: true },
    });
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("streams tool calls as an id-and-name delta followed by argument slices", async () => {
    const content = 'line one\nline two with "quotes" and more text to span several chunks';
    const { chunks } = await stream({
      model: "scripted",
      messages: [user(`write file notes/hello.txt containing ${content}`)],
      tools: [{ type: "function", function: { name: "write" } }],
    });
    const toolDeltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    const [head, ...rest] = toolDeltas;
    expect(head).toMatchObject({ index: 0, type: "function", function: { name: "write", arguments: "" } });
    expect(head?.id).toMatch(/^call_/);
    expect(rest.length).toBeGreaterThan(1);
    expect(rest.every((d) => d.index === 0 && d.id === undefined && d.function.name === undefined)).toBe(true);
    const args: unknown = JSON.parse(rest.map((d) => d.function.arguments).join(""));
    expect(args).toEqual({ filePath: "notes/hello.txt", content: `${content}\n` });
    expect(contentOf(chunks)).toBe("Writing `notes/hello.txt`.");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("indexes several tool calls of one step separately", async () => {
    const { chunks } = await stream({ model: "scripted", messages: [user("two tools")], tools: [READ_TOOL] });
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    const byIndex = (index: number) =>
      JSON.parse(
        deltas
          .filter((d) => d.index === index)
          .map((d) => d.function.arguments)
          .join(""),
      ) as unknown;
    expect(byIndex(0)).toEqual({ filePath: "a.txt" });
    expect(byIndex(1)).toEqual({ filePath: "b.txt" });
    const ids = deltas.flatMap((d) => (d.id ? [d.id] : []));
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("streams reasoning as reasoning_content before the text", async () => {
    const { chunks } = await stream({ model: "scripted", messages: [user("demo")], tools: [READ_TOOL] });
    const reasoning = chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? "").join("");
    expect(reasoning).toContain("offline demo");
    const firstReasoning = chunks.findIndex((c) => c.choices[0]?.delta.reasoning_content);
    const firstContent = chunks.findIndex((c) => c.choices[0]?.delta.content);
    expect(firstReasoning).toBeLessThan(firstContent);
  });

  it("keeps serving after a client hangs up mid-stream", async () => {
    const controller = new AbortController();
    const response = await fetch(`${model.url}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "scripted", stream: true, messages: [user("slow stream")] }),
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    controller.abort();
    const { chunks } = await stream({ model: "scripted", messages: [user("echo still here")] });
    expect(contentOf(chunks)).toBe("still here");
  });
});

describe("step selection", () => {
  const toolTurn = (id: string) => [
    { role: "assistant", content: null, tool_calls: [{ id, type: "function", function: { name: "read", arguments: "{}" } }] },
    { role: "tool", tool_call_id: id, content: "file contents" },
  ];

  it("plays the step given by the assistant turns since the latest user message, then the final text", async () => {
    const prompt = user('replace "old" with "new" in src/a.ts');
    const first = await stream({ model: "scripted", messages: [{ role: "system", content: "sys" }, prompt], tools: [READ_TOOL] });
    expect(first.chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])[0]?.function.name).toBe("read");

    const second = await stream({ model: "scripted", messages: [prompt, ...toolTurn("call_1")], tools: [READ_TOOL] });
    expect(second.chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])[0]?.function.name).toBe("edit");

    const third = await stream({ model: "scripted", messages: [prompt, ...toolTurn("call_1"), ...toolTurn("call_2")], tools: [READ_TOOL] });
    expect(contentOf(third.chunks)).toBe("Replaced the text in `src/a.ts`.");
    expect(third.chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(model.requests.slice(-3).map((r) => r.stepIndex)).toEqual([0, 1, 2]);
  });

  it("restarts at the first step for a new user message after earlier turns", async () => {
    const messages = [user("two tools"), ...toolTurn("call_1"), { role: "assistant", content: "Both read." }, user("two tools")];
    const { chunks } = await stream({ model: "scripted", messages, tools: [READ_TOOL] });
    expect(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).length).toBeGreaterThan(0);
  });

  it("reads the latest user message from content parts", async () => {
    const { chunks } = await stream({
      model: "scripted",
      messages: [{ role: "user", content: [{ type: "text", text: "echo from parts" }] }],
    });
    expect(contentOf(chunks)).toBe("from parts");
  });

  it("answers unmatched prompts with the fallback script", async () => {
    const { chunks } = await stream({ model: "scripted", messages: [user("please refactor the billing module")] });
    expect(contentOf(chunks)).toContain("offline scripted model");
    expect(model.requests.at(-1)?.reason).toBe("fallback");
  });

  it("plays the script named by the model when no match applies", async () => {
    const { chunks } = await stream({ model: "scripted/demo", messages: [user("anything at all")], tools: [READ_TOOL] });
    expect(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])[0]?.function.name).toBe("read");
    expect(model.requests.at(-1)).toMatchObject({ script: "demo", reason: "model" });
  });

  it("answers with text only when the request offers no tools", async () => {
    const { chunks } = await stream({ model: "scripted", messages: [user("run command ls")] });
    expect(chunks.some((c) => c.choices[0]?.delta.tool_calls)).toBe(false);
    expect(contentOf(chunks)).toBe("Running `ls`.");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });
});

describe("non-streaming", () => {
  it("returns one chat.completion with the tool calls and usage", async () => {
    const response = await post({ model: "m", messages: [user("two tools")], tools: [READ_TOOL] });
    expect(response.status).toBe(200);
    const body = z
      .object({
        object: z.literal("chat.completion"),
        choices: z.array(
          z.object({
            message: z.object({
              role: z.literal("assistant"),
              content: z.string().nullable(),
              tool_calls: z.array(z.object({ id: z.string(), function: z.object({ name: z.string(), arguments: z.string() }) })),
            }),
            finish_reason: z.string(),
          }),
        ),
        usage: z.object({ total_tokens: z.number() }),
      })
      .parse(await response.json());
    expect(body.choices[0]?.message.content).toBe("Reading two files.");
    expect(body.choices[0]?.message.tool_calls.map((c) => JSON.parse(c.function.arguments) as unknown)).toEqual([
      { filePath: "a.txt" },
      { filePath: "b.txt" },
    ]);
    expect(body.choices[0]?.finish_reason).toBe("tool_calls");
    expect(body.usage.total_tokens).toBe(18);
  });

  it("lists the scripts as models", async () => {
    const response = await fetch(`${model.url}/models`);
    const body = z
      .object({ object: z.literal("list"), data: z.array(z.object({ id: z.string(), object: z.literal("model") })) })
      .parse(await response.json());
    expect(body.data.map((m) => m.id)).toEqual(expect.arrayContaining(["demo", "two-tools", "fallback"]));
  });
});

describe("bad requests", () => {
  it("rejects a body that is not JSON with an OpenAI-shaped 400", async () => {
    const response = await fetch(`${model.url}/chat/completions`, { method: "POST", body: "{nope" });
    expect(response.status).toBe(400);
    expect(ErrorBody.parse(await response.json()).error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
  });

  it("names the invalid field", async () => {
    const response = await post({ model: "m", messages: [] });
    expect(response.status).toBe(400);
    const { error } = ErrorBody.parse(await response.json());
    expect(error.param).toBe("messages");
  });

  it("rejects an unknown role", async () => {
    const response = await post({ model: "m", messages: [{ role: "wizard", content: "hi" }] });
    expect(response.status).toBe(400);
    expect(ErrorBody.parse(await response.json()).error.param).toBe("messages.0.role");
  });

  it("answers wrong methods and unknown routes", async () => {
    expect((await fetch(`${model.url}/chat/completions`)).status).toBe(405);
    const missing = await fetch(`${model.url}/embeddings`, { method: "POST", body: "{}" });
    expect(missing.status).toBe(404);
    expect(ErrorBody.parse(await missing.json()).error.code).toBe("unknown_url");
  });

  it("returns a scripted model error as the HTTP status the script asks for", async () => {
    const response = await post({ model: "m", stream: true, messages: [user("fail with model error")] });
    expect(response.status).toBe(400);
    expect(ErrorBody.parse(await response.json()).error.message).toContain("asked to fail");
  });
});

describe("loadScripts", () => {
  it("loads and validates scripts from a JSON file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "scripted-model-"));
    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify({ scripts: [{ name: "hi", match: "^hi$", steps: [{ text: "hello" }] }] }));
    const scripts = await loadScripts(good);
    expect(scripts[0]).toMatchObject({ name: "hi", flags: "i", finalText: "Done." });

    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify([{ name: "x", match: "(", steps: [{}] }]));
    await expect(loadScripts(bad)).rejects.toThrow(/regular expression|step needs/);
  });
});

describe("with a token", () => {
  it("refuses every request without the right bearer token, and answers with it", async () => {
    const locked = await startScriptedModel({ token: "offline-model-token-0123456789" });
    try {
      const body = JSON.stringify({ model: "demo", messages: [{ role: "user", content: "hello" }] });
      const post = (authorization?: string) =>
        fetch(`${locked.url}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
          body,
        });
      for (const refused of [await post(), await post("Bearer wrong"), await post("offline-model-token-0123456789")]) {
        expect(refused.status).toBe(401);
        expect(await refused.json()).toMatchObject({ error: { code: "invalid_api_key" } });
      }
      expect((await fetch(`${locked.url}/models`)).status).toBe(401);
      expect(locked.requests).toHaveLength(0);
      expect((await post("Bearer offline-model-token-0123456789")).status).toBe(200);
      const health = await fetch(`${locked.url.replace(/\/v1$/, "")}/health`);
      expect(await health.json()).toEqual({ ok: true });
    } finally {
      await locked.close();
    }
  });
});
