import { describe, expect, it } from "vitest";
import {
  BridgeMessage,
  ERROR_CODES,
  ErrorBody,
  ErrorCode,
  LookoutError,
  readStoredErrorCode,
  ServerMessage,
  SessionCommand,
  SessionEvent,
} from "../src/index";

const storedAgentError = (code: unknown) => ({
  seq: 7,
  at: 1_700_000_000_000,
  key: null,
  payload: { type: "agent.error", promptId: "p1", message: "the model refused", code },
});

describe("the error registry", () => {
  it("is the one set of codes the schemas accept", () => {
    for (const code of Object.keys(ERROR_CODES)) expect(ErrorCode.parse(code)).toBe(code);
    expect(ErrorCode.safeParse("NOT_A_REGISTRY_CODE").success).toBe(false);
    expect(ErrorCode.safeParse("internal").success).toBe(false);
  });

  it("types every frame and body that carries a code to the registry", () => {
    const serverError = { type: "error", code: "PROMPT_QUEUE_FULL", message: "full" };
    expect(ServerMessage.parse(serverError)).toEqual(serverError);
    expect(ServerMessage.safeParse({ ...serverError, code: "QUEUE_FULL" }).success).toBe(false);

    const bridgeError = { type: "error", code: "INVALID_FRAME", message: "bad" };
    expect(SessionCommand.parse(bridgeError)).toEqual(bridgeError);
    expect(SessionCommand.safeParse({ ...bridgeError, code: "BAD_FRAME" }).success).toBe(false);

    const body = new LookoutError("SANDBOX_NOT_FOUND").toBody();
    expect(ErrorBody.parse(body)).toEqual(body);
    expect(ErrorBody.safeParse({ error: { code: "HTTP_404", message: "gone" } }).success).toBe(false);
  });

  it("refuses an agent.error from the bridge whose code is not a registry code", () => {
    const frame = (code: string) => ({ type: "bridge.event", bseq: 1, event: { type: "agent.error", message: "boom", code } });
    expect(BridgeMessage.safeParse(frame("MODEL_API_ERROR")).success).toBe(true);
    expect(BridgeMessage.safeParse(frame("API_ERROR")).success).toBe(false);
    expect(BridgeMessage.safeParse(frame("SOMETHING_NEW")).success).toBe(false);
  });
});

describe("stored agent.error rows", () => {
  it("keep a registry code as it is", () => {
    expect(SessionEvent.parse(storedAgentError("GIT_PUSH_FAILED")).payload).toMatchObject({ code: "GIT_PUSH_FAILED" });
  });

  it("read codes older versions derived from OpenCode's error names as their registry equivalents", () => {
    expect(SessionEvent.parse(storedAgentError("API_ERROR")).payload).toMatchObject({ code: "MODEL_API_ERROR" });
    expect(SessionEvent.parse(storedAgentError("MESSAGE_OUTPUT_LENGTH_ERROR")).payload).toMatchObject({ code: "MODEL_OUTPUT_TOO_LONG" });
    expect(SessionEvent.parse(storedAgentError("UNKNOWN_ERROR")).payload).toMatchObject({ code: "AGENT_FAILED" });
  });

  it("read any other code as UNKNOWN instead of failing, keeping the message", () => {
    const parsed = SessionEvent.parse(storedAgentError("WRITTEN_BY_A_NEWER_VERSION")).payload;
    expect(parsed).toEqual({ type: "agent.error", promptId: "p1", message: "the model refused", code: "UNKNOWN" });
    expect(SessionEvent.parse(storedAgentError(42)).payload).toMatchObject({ code: "UNKNOWN" });
    expect(readStoredErrorCode("constructor")).toBe("UNKNOWN");
  });

  it("without a code stay without one", () => {
    const { code: _omitted, ...payload } = storedAgentError(undefined).payload;
    expect(SessionEvent.parse({ ...storedAgentError(undefined), payload }).payload).not.toHaveProperty("code");
  });

  it("replay to a client inside an events frame", () => {
    const frame = { type: "events", replay: true, events: [storedAgentError("CONTEXT_OVERFLOW_ERROR"), storedAgentError("NEWER")] };
    const parsed = ServerMessage.parse(frame);
    if (parsed.type !== "events") throw new Error("not an events frame");
    expect(parsed.events.map((event) => event.payload.type === "agent.error" && event.payload.code)).toEqual([
      "MODEL_CONTEXT_OVERFLOW",
      "UNKNOWN",
    ]);
  });
});
