import { LookoutError } from "@lookout/protocol";
import { log } from "../log";
import type { SessionHub } from "./hub";
import type { Socket } from "./ports";

/** Tells a socket why its frame was refused: a registry code, never a stack trace. */
export function replyError(hub: SessionHub, socket: Socket, error: unknown, requestId: string | undefined): void {
  const request = requestId ? { requestId } : {};
  if (error instanceof LookoutError) {
    hub.send(socket, { type: "error", code: error.code, message: error.message, ...request });
    return;
  }
  log.error("session message failed", { error });
  hub.send(socket, { type: "error", code: "INTERNAL", message: "Something went wrong on our side. Try again.", ...request });
}
