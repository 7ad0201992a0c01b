import { z } from "zod";

/**
 * Scripts describe what the model answers. A script is chosen per request by the first `match`
 * (a regular expression over the latest user message); its steps are played one per model call,
 * so an agent's tool loop (call model → run tools → call model with results) walks through them.
 */

/** Token counts reported for a step; omitted counts are estimated from the text lengths. */
export const StepUsage = z.object({
  promptTokens: z.number().int().nonnegative().optional(),
  completionTokens: z.number().int().nonnegative().optional(),
  reasoningTokens: z.number().int().nonnegative().optional(),
});
export type StepUsage = z.infer<typeof StepUsage>;

export const ScriptToolCall = z.object({
  name: z.string().min(1).max(200),
  /** The tool's arguments; string values may contain `{{capture}}` placeholders. */
  arguments: z.record(z.string(), z.unknown()),
});
export type ScriptToolCall = z.infer<typeof ScriptToolCall>;

/** An HTTP error the model returns instead of a completion, for testing error paths. */
export const StepError = z.object({
  status: z.number().int().min(400).max(599),
  message: z.string().min(1),
  type: z.string().default("invalid_request_error"),
});

export const Step = z
  .object({
    /** Streamed as content deltas. */
    text: z.string().optional(),
    /** Streamed as `reasoning_content` deltas before the text. */
    reasoning: z.string().optional(),
    toolCalls: z.array(ScriptToolCall).optional(),
    usage: StepUsage.optional(),
    /** Delay before each streamed chunk, in milliseconds. */
    delayMs: z.number().int().nonnegative().max(60_000).optional(),
    /** Approximate characters per text chunk (chunks break at word boundaries). */
    chunkChars: z.number().int().positive().max(10_000).optional(),
    error: StepError.optional(),
  })
  .refine((step) => step.text !== undefined || (step.toolCalls?.length ?? 0) > 0 || step.error !== undefined, {
    message: "a step needs text, tool calls or an error",
  });
export type Step = z.infer<typeof Step>;

const RegexSource = z.string().refine(
  (source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid regular expression" },
);

export const Script = z.object({
  name: z.string().min(1).max(100),
  description: z.string().optional(),
  /** Regular expression (JavaScript syntax) tested against the latest user message. */
  match: RegexSource,
  /** Regular expression flags; `i` by default so prompts match regardless of case. */
  flags: z
    .string()
    .regex(/^[dgimsuy]*$/)
    .default("i"),
  steps: z.array(Step).min(1),
  /** The reply once every step has been played. */
  finalText: z.string().default("Done."),
});
export type Script = z.infer<typeof Script>;
export type ScriptInput = z.input<typeof Script>;

export const ScriptList = z.union([z.array(Script), z.object({ scripts: z.array(Script) }).transform((v) => v.scripts)]);

/** Values that `{{name}}` placeholders are replaced with: regex groups and the prompt itself. */
export type Captures = Readonly<Record<string, string>>;

export interface ScriptSelection {
  script: Script;
  captures: Captures;
  /** Why this script was chosen, for logs. */
  reason: "match" | "model" | "fallback";
}

/**
 * Chooses the script for a request: the first whose `match` matches the latest user message;
 * otherwise the script named by the requested model (so `scripted/demo` always plays the demo);
 * otherwise the fallback.
 */
export function selectScript(scripts: readonly Script[], fallback: Script, latestUserText: string, model: string): ScriptSelection {
  for (const script of scripts) {
    const match = new RegExp(script.match, script.flags.replace("g", "")).exec(latestUserText);
    if (match) return { script, captures: capturesOf(match, latestUserText), reason: "match" };
  }
  const modelName = model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model;
  const named = scripts.find((script) => script.name === modelName);
  if (named) return { script: named, captures: { prompt: latestUserText }, reason: "model" };
  return { script: fallback, captures: { prompt: latestUserText }, reason: "fallback" };
}

function capturesOf(match: RegExpExecArray, prompt: string): Captures {
  const captures: Record<string, string> = { prompt };
  match.forEach((value, index) => {
    captures[String(index)] = value ?? "";
  });
  for (const [name, value] of Object.entries(match.groups ?? {})) captures[name] = value ?? "";
  return captures;
}

/** Replaces `{{name}}` placeholders in every string inside `value`; unknown names become "". */
export function fillTemplate(value: unknown, captures: Captures): unknown {
  if (typeof value === "string") return fillString(value, captures);
  if (Array.isArray(value)) return value.map((item: unknown) => fillTemplate(item, captures));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fillTemplate(item, captures)]));
  }
  return value;
}

export function fillString(template: string, captures: Captures): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, name: string) => captures[name] ?? "");
}

/** What to play for one model call: a step of the script, or its final text once steps run out. */
export type PlannedTurn = { kind: "step"; index: number; step: Step } | { kind: "final"; text: string };

export function planTurn(script: Script, stepIndex: number, captures: Captures): PlannedTurn {
  const step = script.steps[stepIndex];
  // Re-validating after substitution keeps the filled step typed without a cast.
  if (step) return { kind: "step", index: stepIndex, step: Step.parse(fillTemplate(step, captures)) };
  return { kind: "final", text: fillString(script.finalText, captures) };
}
