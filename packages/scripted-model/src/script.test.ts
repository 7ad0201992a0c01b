import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { builtinScripts, fallbackScript } from "./builtin-scripts";
import { chunkText, sliceString } from "./completion";
import { fillTemplate, planTurn, Script, selectScript } from "./script";

/**
 * The JSON schemas `opencode serve` 1.18.33 sent for its tools, recorded from a real request with
 * the bridge's MCP server configured (hence `lookout_create_pull_request`).
 */
const ToolSchemas = z.record(
  z.string(),
  z.object({ properties: z.record(z.string(), z.object({ type: z.string().optional() })), required: z.array(z.string()).default([]) }),
);
const toolSchemas = ToolSchemas.parse(
  JSON.parse(readFileSync(new URL("../test/fixtures/opencode-1.18-tool-schemas.json", import.meta.url), "utf8")),
);

describe("built-in scripts", () => {
  it("call only OpenCode tools, with the required arguments and no unknown ones", () => {
    const calls = builtinScripts.flatMap((script) => script.steps.flatMap((step) => step.toolCalls ?? []));
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      const schema = toolSchemas[call.name];
      expect(schema, `tool ${call.name}`).toBeDefined();
      if (!schema) continue;
      for (const key of schema.required) expect(call.arguments, `${call.name}.${key}`).toHaveProperty(key);
      for (const [key, value] of Object.entries(call.arguments)) {
        expect(schema.properties, `${call.name}.${key}`).toHaveProperty(key);
        const type = schema.properties[key]?.type;
        if (type === "integer") expect(Number.isInteger(value), `${call.name}.${key}`).toBe(true);
        else expect(typeof value).toBe(type);
      }
    }
  });

  it("include a demo that reads, writes, edits and runs bash", () => {
    const demo = builtinScripts.find((s) => s.name === "demo");
    expect(demo?.steps.flatMap((s) => s.toolCalls ?? []).map((c) => c.name)).toEqual(["read", "write", "edit", "bash"]);
    expect(demo?.finalText).toMatch(/offline demo/i);
  });
});

describe("selectScript", () => {
  it("takes the first matching script and exposes named and numbered groups", () => {
    const selection = selectScript(builtinScripts, fallbackScript, "write file a/b.txt containing hi there", "x");
    expect(selection.script.name).toBe("write-file");
    expect(selection.captures).toMatchObject({
      path: "a/b.txt",
      content: "hi there",
      "1": "a/b.txt",
      prompt: "write file a/b.txt containing hi there",
    });
  });

  it("asks for a pull request through the bridge's MCP tool, titled or not", () => {
    const titled = selectScript(builtinScripts, fallbackScript, "open a pull request titled Add a greeting", "x");
    expect(titled.script.name).toBe("open-pull-request");
    expect(planTurn(titled.script, 0, titled.captures)).toMatchObject({
      step: { toolCalls: [{ name: "lookout_create_pull_request", arguments: { title: "Add a greeting" } }] },
    });
    const untitled = selectScript(builtinScripts, fallbackScript, "Create a pull request", "x");
    expect(planTurn(untitled.script, 0, untitled.captures)).toMatchObject({ step: { toolCalls: [{ arguments: { title: "" } }] } });
  });

  it("matches case-insensitively by default", () => {
    expect(selectScript(builtinScripts, fallbackScript, "DEMO please", "x").script.name).toBe("demo");
  });
});

describe("planTurn", () => {
  it("fills placeholders in text and nested arguments; unknown names become empty", () => {
    const script = Script.parse({
      name: "t",
      match: ".",
      steps: [{ text: "{{a}}-{{missing}}", toolCalls: [{ name: "write", arguments: { nested: ["{{ a }}", 3] } }] }],
      finalText: "bye {{a}}",
    });
    const turn = planTurn(script, 0, { a: "x" });
    expect(turn).toMatchObject({ kind: "step", step: { text: "x-", toolCalls: [{ arguments: { nested: ["x", 3] } }] } });
    expect(planTurn(script, 1, { a: "x" })).toEqual({ kind: "final", text: "bye x" });
    expect(fillTemplate(42, {})).toBe(42);
  });
});

describe("chunking", () => {
  it("splits text at word boundaries and joins back to the original", () => {
    const text = "The quick  brown fox\njumps over the lazy dog. Supercalifragilisticexpialidocious!";
    const chunks = chunkText(text, 10);
    expect(chunks.join("")).toBe(text);
    expect(chunks.length).toBeGreaterThan(4);
    expect(chunks).toContain("Supercalifragilisticexpialidocious!");
    expect(chunkText("", 10)).toEqual([]);
  });

  it("slices tool arguments into fixed-size pieces", () => {
    expect(sliceString("abcdefg", 3)).toEqual(["abc", "def", "g"]);
    expect(sliceString("", 3)).toEqual([""]);
  });
});
