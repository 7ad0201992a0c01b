import type { BridgeEventPayload } from "@lookout/protocol";
import { KnownPart, type MessageWithParts, type OpencodeEvent, type StepFinishPart, type ToolPart } from "./opencode-events";

/** Longest tool output kept in a `tool.call` event; the head and the tail survive. */
export const MAX_TOOL_OUTPUT_CHARS = 16_000;
/** Longest string kept inside a tool's input (a `write` carries whole files). */
export const MAX_TOOL_INPUT_STRING_CHARS = 8_000;
/** Longest tool error message kept. */
export const MAX_TOOL_ERROR_CHARS = 4_000;

/** What one OpenCode event means for the prompt that is running. */
export type TranslatorOutput =
  /** The whole text of one text or reasoning part so far; `final` once the part has ended. */
  | { kind: "text"; promptId: string; messageId: string; role: "assistant" | "reasoning"; text: string; final: boolean }
  /** A protocol event ready to send (`tool.call`, `step.finished`). */
  | { kind: "event"; event: BridgeEventPayload }
  | { kind: "busy" }
  | { kind: "idle" }
  | { kind: "error"; name: string; message: string };

interface TextState {
  role: "assistant" | "reasoning";
  text: string;
  final: boolean;
}

/**
 * Turns OpenCode's events for one OpenCode session into Lookout events. Pure and synchronous:
 * it keeps just enough state to accumulate text deltas, to tell the user's own message apart
 * from the agent's, and to emit each tool state change once.
 */
export class EventTranslator {
  private promptId: string | undefined;
  private readonly roles = new Map<string, "user" | "assistant">();
  /** The prompt each assistant message belongs to: late events of a finished prompt are dropped. */
  private readonly messagePrompts = new Map<string, string>();
  private readonly texts = new Map<string, TextState>();
  private readonly toolSignatures = new Map<string, string>();
  private readonly finishedSteps = new Set<string>();

  constructor(private readonly opencodeSessionId: string) {}

  /** Starts attributing events to `promptId`. */
  beginPrompt(promptId: string): void {
    this.promptId = promptId;
  }

  /** Stops attributing events; later events (until the next prompt) are dropped. */
  endPrompt(): void {
    this.promptId = undefined;
    this.texts.clear();
  }

  translate(event: OpencodeEvent): TranslatorOutput[] {
    switch (event.type) {
      case "message.updated": {
        const { info } = event.properties;
        if (info.sessionID !== this.opencodeSessionId) return [];
        this.roles.set(info.id, info.role);
        if (info.role === "assistant" && this.promptId && !this.messagePrompts.has(info.id))
          this.messagePrompts.set(info.id, this.promptId);
        return [];
      }
      case "message.part.delta": {
        const p = event.properties;
        if (p.sessionID !== this.opencodeSessionId || p.field !== "text" || !this.promptId) return [];
        const state = this.texts.get(p.partID);
        // A delta for a part the bridge has not seen start belongs to a user message or is stale.
        if (!state || state.final) return [];
        state.text += p.delta;
        return [{ kind: "text", promptId: this.promptId, messageId: p.partID, role: state.role, text: state.text, final: false }];
      }
      case "message.part.updated":
        return this.translatePart(event.properties.part);
      case "session.status": {
        const p = event.properties;
        if (p.sessionID !== this.opencodeSessionId) return [];
        return p.status.type === "idle" ? [{ kind: "idle" }] : [{ kind: "busy" }];
      }
      case "session.idle":
        return event.properties.sessionID === this.opencodeSessionId ? [{ kind: "idle" }] : [];
      case "session.error": {
        const p = event.properties;
        if (p.sessionID !== undefined && p.sessionID !== this.opencodeSessionId) return [];
        const name = p.error?.name ?? "UnknownError";
        return [{ kind: "error", name, message: p.error?.data?.message ?? name }];
      }
    }
  }

  /**
   * Replays the final state of a prompt's assistant messages (from the messages API) so that
   * anything the event stream missed still reaches the session; unchanged parts emit nothing.
   */
  reconcile(messages: readonly MessageWithParts[]): TranslatorOutput[] {
    const lastUser = messages.map((m) => m.info.role).lastIndexOf("user");
    const outputs: TranslatorOutput[] = [];
    for (const message of messages.slice(lastUser + 1)) {
      if (message.info.sessionID !== this.opencodeSessionId) continue;
      this.roles.set(message.info.id, message.info.role);
      for (const part of message.parts) outputs.push(...this.translatePart(part));
    }
    return outputs;
  }

  private translatePart(raw: { type: string; sessionID: string; messageID: string }): TranslatorOutput[] {
    if (raw.sessionID !== this.opencodeSessionId || !this.promptId) return [];
    const parsed = KnownPart.safeParse(raw);
    if (!parsed.success) return [];
    const part = parsed.data;
    // The user's own prompt arrives as a text part too; only the agent's parts are output.
    if (this.roles.get(part.messageID) === "user") return [];
    const owner = this.messagePrompts.get(part.messageID);
    if (owner === undefined) this.messagePrompts.set(part.messageID, this.promptId);
    else if (owner !== this.promptId) return [];
    switch (part.type) {
      case "text":
      case "reasoning": {
        if (part.synthetic) return [];
        const role = part.type === "reasoning" ? "reasoning" : "assistant";
        const final = part.time?.end !== undefined;
        const previous = this.texts.get(part.id);
        if (previous && previous.text === part.text && previous.final === final) return [];
        this.texts.set(part.id, { role, text: part.text, final });
        if (part.text.length === 0 && !final) return [];
        return [{ kind: "text", promptId: this.promptId, messageId: part.id, role, text: part.text, final }];
      }
      case "tool":
        return this.translateTool(part, this.promptId);
      case "step-finish":
        return this.translateStepFinish(part, this.promptId);
    }
  }

  private translateTool(part: ToolPart, promptId: string): TranslatorOutput[] {
    const { state } = part;
    const title = state.status === "running" || state.status === "completed" ? state.title : undefined;
    // Emit when the status or title changes; OpenCode also re-sends parts for metadata updates.
    const signature = `${state.status}|${title ?? ""}|${JSON.stringify(state.input ?? {}).length}`;
    if (this.toolSignatures.get(part.id) === signature) return [];
    this.toolSignatures.set(part.id, signature);
    const time = state.status === "pending" ? undefined : state.time;
    const event: BridgeEventPayload = {
      type: "tool.call",
      promptId,
      callId: part.id,
      tool: part.tool,
      ...(title ? { title: truncateMiddle(title, 2_000) } : {}),
      input: truncateStrings(state.input ?? {}, MAX_TOOL_INPUT_STRING_CHARS),
      state: state.status,
      ...(state.status === "completed" ? { output: truncateMiddle(state.output, MAX_TOOL_OUTPUT_CHARS) } : {}),
      ...(state.status === "error" ? { error: truncateMiddle(state.error, MAX_TOOL_ERROR_CHARS) } : {}),
      ...(time?.start !== undefined ? { startedAt: time.start } : {}),
      ...(time?.end !== undefined ? { endedAt: time.end } : {}),
    };
    return [{ kind: "event", event }];
  }

  private translateStepFinish(part: StepFinishPart, promptId: string): TranslatorOutput[] {
    if (this.finishedSteps.has(part.id)) return [];
    this.finishedSteps.add(part.id);
    const tokens = part.tokens;
    const count = (n: number | undefined): number => Math.max(0, Math.round(n ?? 0));
    return [
      {
        kind: "event",
        event: {
          type: "step.finished",
          promptId,
          tokens: {
            input: count(tokens?.input),
            output: count(tokens?.output),
            reasoning: count(tokens?.reasoning),
            cacheRead: count(tokens?.cache?.read),
            cacheWrite: count(tokens?.cache?.write),
          },
          costUsd: Math.max(0, part.cost ?? 0),
        },
      },
    ];
  }
}

/** Keeps the head and the tail of a long string, marking how much was cut from the middle. */
export function truncateMiddle(value: string, maxChars: number): string {
  if (value.length <= maxChars) return value;
  const marker = `\n… [${value.length - maxChars} characters truncated] …\n`;
  const keep = Math.max(0, maxChars - marker.length);
  const head = Math.ceil(keep / 2);
  return value.slice(0, head) + marker + value.slice(value.length - (keep - head));
}

/** Truncates every string inside a JSON-like value. */
export function truncateStrings(value: unknown, maxChars: number): unknown {
  if (typeof value === "string") return truncateMiddle(value, maxChars);
  if (Array.isArray(value)) return value.map((item: unknown) => truncateStrings(item, maxChars));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, truncateStrings(item, maxChars)]));
  }
  return value;
}
